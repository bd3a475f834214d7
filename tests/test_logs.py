"""The token never reaches a log line: message, arguments, traceback, URL-encoded."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logs import REDACTED, RedactingFormatter, install_redaction

TOKEN = "987654:Redact-Me_0123456789"


@pytest.fixture(autouse=True)
def redaction() -> None:
    install_redaction([TOKEN])


def test_message_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.redaction")
    with caplog.at_level(logging.INFO):
        log.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        log.info(f"token inline {TOKEN}")
    assert TOKEN not in caplog.text
    assert caplog.text.count(REDACTED) == 2


def test_url_encoded_token(caplog: pytest.LogCaptureFixture) -> None:
    encoded = TOKEN.replace(":", "%3A")
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").warning("GET http://h/file/bot%s/photos/1.jpg", encoded)
    assert encoded not in caplog.text and REDACTED in caplog.text


def test_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.redaction")
    with caplog.at_level(logging.ERROR):
        try:
            raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/sendMessage")
        except ConnectionError:
            log.exception("request failed")
    assert TOKEN not in caplog.text
    assert "ConnectionError" in caplog.text and REDACTED in caplog.text


def test_a_handler_added_later_is_covered_too() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("test.late")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("late %s", TOKEN)
        try:
            raise ValueError(TOKEN)
        except ValueError:
            log.exception("boom")
    finally:
        log.removeHandler(handler)
    assert TOKEN not in stream.getvalue()


def test_formatter_redacts_its_output() -> None:
    formatter = RedactingFormatter(["s3cr3t"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", ("s3cr3t",), None)
    assert "s3cr3t" not in formatter.format(record)


def test_a_malformed_logging_call_is_left_to_the_handler() -> None:
    factory = logging.getLogRecordFactory()
    record = factory("x", logging.INFO, __file__, 1, "two %s %s", ("one",), None, None)
    assert record.msg == "two %s %s"  # not raised here; the handler reports it as usual
