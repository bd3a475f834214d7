"""Test doubles for the outside world: a fake Telegram Bot API server and its fixtures.

The end-to-end tests run the real bot against :mod:`fakes.fake_bot_api` on 127.0.0.1, so
that every request the bot makes goes through python-telegram-bot's own HTTP code exactly as
it would against api.telegram.org, and the server can misbehave on demand.
"""
