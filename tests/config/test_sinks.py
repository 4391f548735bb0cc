"""The local mail and SMS sinks (config/sinks.py) and the channels delivering through them."""

from __future__ import annotations

import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.mail import send_mail

from config.sinks import DEFAULT_PORTS, MailSink, read_jsonl
from pathways.channels import (
    OutgoingMessage,
    PermanentSendError,
    TransientSendError,
    send_email,
    send_sms,
)

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outgoing(key: str = "0b7c4d1e-1111-4222-8333-944445555666", address: str = "", body: str = "Hej"):
    return OutgoingMessage(idempotency_key=key, address=address, subject="Nyt i Fælles forløb", body=body)


def post_sms(url: str, key: str, message: str = "Hej", msisdn: int = 4522416318) -> httpx.Response:
    payload = {"sender": "Forloeb", "message": message, "recipients": [{"msisdn": msisdn}], "userref": key}
    return httpx.post(url, json=payload, headers={"Idempotency-Key": key}, timeout=5)


# --- Mail --------------------------------------------------------------------------------------------


def test_mail_sent_with_send_mail_is_stored_as_a_line_and_an_eml_file(mail_sink):
    send_mail("Nyt i Fælles forløb", "Hej Åse,\nder er nyt.", "noreply@example.invalid", ["aase@example.dk"])

    [message] = mail_sink.messages()
    assert message["to"] == ["aase@example.dk"]
    assert message["from"] == "noreply@example.invalid"
    assert message["subject"] == "Nyt i Fælles forløb"
    assert message["body"].strip() == "Hej Åse,\nder er nyt."
    assert message["message_id"].startswith("<")
    assert message["received_at"]
    assert b"Subject:" in mail_sink.eml(message)
    assert mail_sink.duplicates() == 0


def test_send_email_twice_with_one_idempotency_key_is_stored_once_and_counted_as_a_duplicate(mail_sink):
    send_email(outgoing(address="lars@example.dk"))
    send_email(outgoing(address="lars@example.dk"))
    send_email(outgoing(key="another-row", address="lars@example.dk"))

    messages = mail_sink.messages()
    assert [m["message_id"] for m in messages] == [
        f"<0b7c4d1e-1111-4222-8333-944445555666@{django_settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>",
        f"<another-row@{django_settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>",
    ]
    assert mail_sink.duplicates() == 1


def test_the_mail_sink_still_recognises_a_message_id_after_a_restart(tmp_path):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.dk", "b@example.dk", "Hej"
    message["Message-ID"] = "<row-1@example.invalid>"
    message.set_content("Hej")
    for _ in range(2):
        sink = MailSink(tmp_path).start()
        try:
            with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
                assert client.send_message(message) == {}
        finally:
            sink.stop()

    assert len(read_jsonl(tmp_path / "mail.jsonl")) == 1
    assert (tmp_path / "mail-duplicates.log").read_text().count("<row-1@example.invalid>") == 1


def test_send_email_to_a_closed_port_raises_a_transient_error(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    with pytest.raises(TransientSendError):
        send_email(outgoing(address="lars@example.dk"))


# --- SMS ---------------------------------------------------------------------------------------------


def test_send_sms_is_stored_with_sender_number_text_and_key(sms_sink):
    send_sms(outgoing(address="22 41 63 18", body="Hej. Der er nyt i din plan."))

    [message] = sms_sink.messages()
    assert message["msisdn"] == 4522416318
    assert message["sender"] == django_settings.SMS_SENDER
    assert message["message"] == "Hej. Der er nyt i din plan."
    assert message["idempotency_key"] == "0b7c4d1e-1111-4222-8333-944445555666"
    assert message["received_at"]


def test_send_sms_twice_with_one_key_is_stored_once_and_counted_as_a_duplicate(sms_sink):
    send_sms(outgoing(address="+45 22 41 63 18"))
    send_sms(outgoing(address="+45 22 41 63 18"))

    assert len(sms_sink.messages()) == 1
    assert sms_sink.duplicates() == 1


def test_a_repeated_sms_key_gets_200_with_the_first_id(sms_sink):
    first = post_sms(sms_sink.url, "row-a")
    again = post_sms(sms_sink.url, "row-a", message="a different text, same key")
    other = post_sms(sms_sink.url, "row-b")

    assert first.status_code == again.status_code == other.status_code == 200
    assert again.json() == first.json() == {"ids": [1]}
    assert other.json() == {"ids": [2]}
    assert [m["message"] for m in sms_sink.messages()] == ["Hej", "Hej"]


def test_the_userref_is_the_key_when_the_idempotency_header_is_missing(sms_sink):
    payload = {"sender": "F", "message": "Hej", "recipients": [{"msisdn": 4522416318}], "userref": "row-c"}
    for _ in range(2):
        assert httpx.post(sms_sink.url, json=payload, timeout=5).json() == {"ids": [1]}

    assert len(sms_sink.messages()) == 1
    assert sms_sink.duplicates() == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"message": "Hej"}',
        b'{"message": "Hej", "recipients": [{"msisdn": "4522416318"}]}',
        b'{"message": "", "recipients": [{"msisdn": 4522416318}]}',
    ],
    ids=["not-json", "not-utf8", "not-an-object", "no-recipients", "msisdn-not-a-number", "empty-text"],
)
def test_an_sms_request_that_is_not_gateway_json_gets_400_and_is_not_stored(sms_sink, body):
    response = httpx.post(sms_sink.url, content=body, headers={"Content-Type": "application/json"}, timeout=5)

    assert response.status_code == 400
    assert sms_sink.messages() == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientSendError),
        (503, TransientSendError),
        (429, TransientSendError),
        (400, PermanentSendError),
    ],
)
def test_send_sms_sorts_gateway_errors_into_transient_and_permanent(sms_sink, status, error):
    sms_sink.answer_with(status)

    with pytest.raises(error):
        send_sms(outgoing(address="22416318"))
    assert sms_sink.messages() == []


def test_send_sms_to_a_closed_port_raises_a_transient_error(settings):
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{closed_port()}/rest/mtsms"

    with pytest.raises(TransientSendError):
        send_sms(outgoing(address="22416318"))


def test_the_sms_page_lists_messages_newest_first_in_danish_and_escaped(sms_sink):
    post_sms(sms_sink.url, "row-1", message="Første <b>besked</b>")
    post_sms(sms_sink.url, "row-2", message="Anden besked")

    page = httpx.get(sms_sink.page_url, timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<html lang="da">' in page.text
    assert "Første &lt;b&gt;besked&lt;/b&gt;" in page.text
    assert "<b>" not in page.text
    assert page.text.index("Anden besked") < page.text.index("Første")


# --- make run ----------------------------------------------------------------------------------------


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.parametrize("kind", ["smtp", "sms"])
def test_the_command_line_sink_receives_and_stops_cleanly_on_sigterm(tmp_path, kind):
    port = closed_port()
    command = [sys.executable, "-m", "config.sinks", kind, "--port", str(port), "--dir", str(tmp_path)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as process:
        try:
            wait_for_port(port, process)
            if kind == "smtp":
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.sendmail("a@example.dk", ["b@example.dk"], b"Subject: Hej\r\n\r\nHej\r\n")
                assert len(read_jsonl(tmp_path / "mail.jsonl")) == 1
            else:
                assert post_sms(f"http://127.0.0.1:{port}/rest/mtsms", "row-1").status_code == 200
                assert len(read_jsonl(tmp_path / "sms.jsonl")) == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_make_run_starts_both_sinks_on_the_ports_the_settings_send_to():
    procfile = (ROOT / "Procfile").read_text()
    settings_source = (ROOT / "config" / "settings.py").read_text()

    assert f"config.sinks smtp --port ${{FF_SMTP_PORT:-{DEFAULT_PORTS['smtp']}}}" in procfile
    assert f"config.sinks sms --port ${{FF_SMS_PORT:-{DEFAULT_PORTS['sms']}}}" in procfile
    assert re.search(rf'"FF_SMTP_PORT", "{DEFAULT_PORTS["smtp"]}"', settings_source)
    assert f'"FF_SMS_GATEWAY_URL", "http://127.0.0.1:{DEFAULT_PORTS["sms"]}/rest/mtsms"' in settings_source
