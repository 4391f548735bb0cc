"""Fixtures that deliver through the real local sinks of config/sinks.py (the ones `make run` starts).

`mail_sink` runs the SMTP sink and `sms_sink` the SMS gateway sink, each on a free port in its own
temporary folder and on a thread of the test process, and point Django's settings at it for the test.
Registered in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config.sinks import (
    MAIL_DUPLICATES,
    MAIL_FILE,
    SMS_DUPLICATES,
    SMS_FILE,
    MailSink,
    SmsSink,
    count_lines,
    read_jsonl,
)


class RunningMailSink:
    def __init__(self, sink: MailSink, directory: Path) -> None:
        self.sink, self.directory, self.port = sink, directory, sink.port

    def messages(self) -> list[dict[str, Any]]:
        return read_jsonl(self.directory / MAIL_FILE)

    def duplicates(self) -> int:
        return count_lines(self.directory / MAIL_DUPLICATES)

    def slow_down(self, seconds: float) -> None:
        self.sink.slow_down(seconds)

    def eml(self, message: dict[str, Any]) -> bytes:
        """The raw message as it arrived."""
        return (self.directory / message["eml"]).read_bytes()


class RunningSmsSink:
    def __init__(self, sink: SmsSink, directory: Path) -> None:
        self.sink, self.directory, self.url = sink, directory, sink.url
        self.page_url = f"http://{sink.host}:{sink.port}/"

    def messages(self) -> list[dict[str, Any]]:
        return read_jsonl(self.directory / SMS_FILE)

    def duplicates(self) -> int:
        return count_lines(self.directory / SMS_DUPLICATES)

    def answer_with(self, status: int | None) -> None:
        """Every POST gets `status` until set back to None (a gateway that is down or refuses)."""
        self.sink.answer_with(status)


@pytest.fixture
def mail_sink(settings, tmp_path_factory):
    directory = tmp_path_factory.mktemp("mail-sink")
    sink = MailSink(directory).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
    # Whatever the developer's environment says (FF_SMTP_*), the sink speaks plain SMTP without login.
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield RunningMailSink(sink, directory)
    sink.stop()


@pytest.fixture
def sms_sink(settings, tmp_path_factory):
    directory = tmp_path_factory.mktemp("sms-sink")
    sink = SmsSink(directory).start()
    settings.SMS_GATEWAY_URL = sink.url
    settings.SMS_GATEWAY_TOKEN = ""
    yield RunningSmsSink(sink, directory)
    sink.stop()
