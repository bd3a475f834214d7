"""Logging set-up that never writes the bot token.

The token is part of every Bot API URL (``.../bot<token>/sendMessage``), and httpx and
python-telegram-bot log URLs and put them in exception messages. So: httpx is quieted to
WARNING, every log record is redacted when it is made (message, arguments and traceback:
the token becomes ``<TOKEN>``), and the stderr handler's formatter redacts its output too.
"""

from __future__ import annotations

import logging
import sys
import urllib.parse
from collections.abc import Iterable

REDACTED = "<TOKEN>"

#: Loggers that log request URLs (and so the token) at INFO/DEBUG.
NOISY_LOGGERS = ("httpx", "httpcore")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def with_encodings(secrets: Iterable[str]) -> set[str]:
    """The secrets as written and as they appear percent-encoded in a URL (file download
    URLs carry the token with ``:`` as ``%3A``)."""
    found = set()
    for secret in secrets:
        if secret:
            found.update({secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)})
    return found


class RedactingFilter(logging.Filter):
    """Replaces secrets in a record before any handler formats it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted(with_encodings(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call: let the handler report it as usual
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Format the traceback now, redacted, so the handler uses this text.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output is redacted (belt and braces for the filter)."""

    def __init__(self, secrets: Iterable[str], fmt: str = LOG_FORMAT) -> None:
        super().__init__(fmt)
        self._filter = RedactingFilter(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._filter.redact(super().format(record))


def configure_logging(level: int, secrets: Iterable[str], stream=None) -> logging.Handler:
    """Log to stderr at ``level`` with the secrets redacted; returns the handler."""
    secrets = list(secrets)
    root = logging.getLogger()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    install_redaction(secrets)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return handler


_SECRETS: set[str] = set()
_REDACTOR = RedactingFilter(())
_BASE_FACTORY = logging.getLogRecordFactory()


def _redacting_record_factory(*args, **kwargs) -> logging.LogRecord:
    record = _BASE_FACTORY(*args, **kwargs)
    _REDACTOR.filter(record)
    return record


def install_redaction(secrets: Iterable[str]) -> None:
    """Redact these secrets from every log record made from now on, whatever handler or
    formatter (pytest's caplog included) eventually writes it.

    Done in the log record factory, that is when a record is created: a handler-level
    filter would miss handlers added later and loggers with handlers of their own.
    """
    global _REDACTOR
    _SECRETS.update(s for s in secrets if s)
    _REDACTOR = RedactingFilter(_SECRETS)
    if logging.getLogRecordFactory() is not _redacting_record_factory:
        logging.setLogRecordFactory(_redacting_record_factory)
