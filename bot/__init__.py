"""The Telegram bot and the ``digitbot`` command line."""
