"""Local mail and SMS sinks for development: `make run` starts them so a person can read what the product
sent, and the tests deliver through them (tests/sinks.py).

    python -m config.sinks smtp --port 1025 --dir .var/sinks
    python -m config.sinks sms --port 1026 --dir .var/sinks

The SMTP sink writes each message as a line of `mail.jsonl` and as `mail/<n>.eml`. The SMS sink answers
`POST /rest/mtsms` in the shape of GatewayAPI's REST API, writes each text message as a line of `sms.jsonl`
and shows them at `GET /`. Both recognise a message sent again — the outbox sends every row with its id as
Message-ID (e-mail) or Idempotency-Key/userref (SMS), and sends again after a worker died before recording
the result — acknowledge it as the real service would, and count it in `*-duplicates.log` instead of
storing it twice. What they have seen is read back from the files at start, so that holds across restarts.

Wiring only: this module imports no app.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiosmtpd.smtp import SMTP, Envelope, Session
from typing_extensions import override

logger = logging.getLogger("faelles_forloeb.sinks")

# The same defaults as EMAIL_PORT (FF_SMTP_PORT) and SMS_GATEWAY_URL (FF_SMS_GATEWAY_URL) in settings.
DEFAULT_PORTS = {"smtp": 1025, "sms": 1026}
MAIL_FILE, MAIL_DUPLICATES = "mail.jsonl", "mail-duplicates.log"
SMS_FILE, SMS_DUPLICATES = "sms.jsonl", "sms-duplicates.log"
SMS_PATH = "/rest/mtsms"
MAX_SMS_REQUEST = 64 * 1024  # bytes; a real request is well under 2 KiB
PAGE_LIMIT = 200  # text messages shown at GET /
LOCAL = ZoneInfo("Europe/Copenhagen")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, oldest first; a line cut short by a crash is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def count_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(line + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- Mail --------------------------------------------------------------------------------------------


class MailStore:
    """Writes received messages to `directory`, each Message-ID once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        (directory / "mail").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        records = read_jsonl(directory / MAIL_FILE)
        self._seen = {str(r["message_id"]) for r in records if r.get("message_id")}
        self._count = len(records)

    def receive(self, raw: bytes, *, mail_from: str, rcpt_tos: Sequence[str]) -> bool:
        """Store the message; False (and a line in the duplicates log) if its Message-ID was seen."""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        message_id = str(message.get("Message-ID", "")).strip()
        received_at = _now()
        with self._lock:
            if message_id and message_id in self._seen:
                _append(self.directory / MAIL_DUPLICATES, f"{received_at} {message_id}")
                logger.info("mail: duplicate %s not stored again", message_id)
                return False
            self._count += 1
            number = self._count
            eml = f"mail/{number}.eml"
            (self.directory / eml).write_bytes(raw)
            record = {
                "message_id": message_id,
                "from": str(message.get("From", "")) or mail_from,
                "to": list(rcpt_tos),
                "subject": str(message.get("Subject", "")),
                "body": _plain_body(message),
                "received_at": received_at,
                "eml": eml,
            }
            _append(self.directory / MAIL_FILE, json.dumps(record, ensure_ascii=False))
            if message_id:
                self._seen.add(message_id)
        logger.info("mail %d to %s: %s (%s)", number, ", ".join(rcpt_tos), record["subject"], eml)
        return True


def _plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content()).replace("\r\n", "\n")
    except (LookupError, ValueError):  # an unknown charset or a broken encoding: the .eml still has it
        return ""


class _MailHandler:
    def __init__(self, store: MailStore) -> None:
        self.store = store
        self.delay = 0.0  # seconds per message: a slow mail server, for fault tests

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        stored = self.store.receive(
            envelope.original_content or b"", mail_from=envelope.mail_from or "", rcpt_tos=envelope.rcpt_tos
        )
        # A duplicate is accepted like any message: the sender must not try it again.
        return "250 Message accepted for delivery" if stored else "250 Already received (same Message-ID)"


class MailSink:
    """The SMTP sink on a background thread. `port=0` picks a free port; read `port` after `start()`."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = MailStore(directory)
        self._handler = _MailHandler(self.store)
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def slow_down(self, seconds: float) -> None:
        """Take `seconds` over every message from now on (a fault test's slow mail server)."""
        self._handler.delay = seconds

    def start(self) -> MailSink:
        """Start serving on a thread of its own (its own event loop, created and closed on that thread,
        so the caller may run an event loop of its own, as Playwright's sync API does)."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="mail-sink", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        handler = self._handler
        try:
            # hostname given: aiosmtpd would otherwise ask the resolver for this machine's name.
            server = loop.run_until_complete(
                loop.create_server(
                    lambda: SMTP(handler, hostname="localhost", loop=loop), self.host, self.port
                )
            )
        except BaseException as error:
            failure.append(error)
            loop.close()
            ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._loop, self._server = loop, server
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(_close(server))
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._loop = self._server = self._thread = None


async def _close(server: asyncio.Server) -> None:
    server.close()
    sessions = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in sessions:  # clients that did not say QUIT
        task.cancel()
    await asyncio.gather(*sessions, return_exceptions=True)
    await server.wait_closed()


# --- SMS ---------------------------------------------------------------------------------------------


class SmsStore:
    """Writes received text messages to `directory`, each idempotency key once, and hands out ids."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        records = read_jsonl(directory / SMS_FILE)
        self._ids = {str(r["idempotency_key"]): int(r["id"]) for r in records if r.get("idempotency_key")}
        self._last_id = max((int(r.get("id", 0)) for r in records), default=0)

    def receive(self, *, key: str, sender: str, msisdns: Sequence[int], message: str) -> int:
        """Store the message (one line per recipient) and return its id; a key seen before returns the
        first id, stores nothing and adds a line to the duplicates log."""
        received_at = _now()
        with self._lock:
            if key and key in self._ids:
                _append(self.directory / SMS_DUPLICATES, f"{received_at} {key} id={self._ids[key]}")
                logger.info("sms: duplicate %s not stored again", key)
                return self._ids[key]
            self._last_id += 1
            for msisdn in msisdns:
                record = {
                    "id": self._last_id,
                    "idempotency_key": key,
                    "sender": sender,
                    "msisdn": msisdn,
                    "message": message,
                    "received_at": received_at,
                }
                _append(self.directory / SMS_FILE, json.dumps(record, ensure_ascii=False))
            if key:
                self._ids[key] = self._last_id
            message_id = self._last_id
        logger.info("sms %d to %s: %s", message_id, ", ".join(map(str, msisdns)), message)
        return message_id


def parse_mtsms(body: bytes) -> tuple[str, str, list[int], str]:
    """(sender, message, msisdns, userref) from a GatewayAPI `mtsms` body; ValueError says what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    sender, message, userref = data.get("sender", ""), data.get("message"), data.get("userref", "")
    recipients = data.get("recipients")
    if not isinstance(message, str) or not message:
        raise ValueError("message: a non-empty string is required")
    if not isinstance(sender, str) or not isinstance(userref, str):
        raise ValueError("sender and userref must be strings")
    if not isinstance(recipients, list) or not recipients:
        raise ValueError("recipients: a non-empty list is required")
    msisdns = []
    for recipient in recipients:
        msisdn = recipient.get("msisdn") if isinstance(recipient, dict) else None
        if not isinstance(msisdn, int) or isinstance(msisdn, bool) or msisdn <= 0:
            raise ValueError("recipients: each needs an msisdn, a positive integer")
        msisdns.append(msisdn)
    return sender, message, msisdns, userref


class _SmsHttpServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], store: SmsStore) -> None:
        super().__init__(address, _SmsRequestHandler)
        self.store = store
        # Tests: answer every POST with this status instead (a gateway that is down, or that refuses).
        self.forced_status: int | None = None


class _SmsRequestHandler(BaseHTTPRequestHandler):
    server_version = "ff-sms-sink"

    def do_POST(self) -> None:
        server = cast(_SmsHttpServer, self.server)
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_SMS_REQUEST:
            self.close_connection = True
            self._send_json(413 if length > 0 else 400, {"message": "a Content-Length up to 64 KiB"})
            return
        body = self.rfile.read(length)  # read before answering, whatever the answer
        if urlsplit(self.path).path != SMS_PATH:
            self._send_json(404, {"message": f"POST {SMS_PATH}"})
            return
        if server.forced_status is not None:
            self._send_json(server.forced_status, {"message": "forced by the test"})
            return
        try:
            sender, message, msisdns, userref = parse_mtsms(body)
        except ValueError as error:
            self._send_json(400, {"message": str(error)})
            return
        key = self.headers.get("Idempotency-Key") or userref
        message_id = server.store.receive(key=key, sender=sender, msisdns=msisdns, message=message)
        self._send_json(200, {"ids": [message_id]})

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/":
            self._send(404, "text/plain; charset=utf-8", b"Ikke fundet\n")
            return
        store = cast(_SmsHttpServer, self.server).store
        records = read_jsonl(store.directory / SMS_FILE)[-PAGE_LIMIT:]
        self._send(200, "text/html; charset=utf-8", _sms_page(records[::-1]).encode())

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.end_headers()
        self.wfile.write(body)

    @override
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def _local_time(received_at: object) -> str:
    try:
        moment = datetime.fromisoformat(str(received_at))
    except ValueError:
        return str(received_at)
    return moment.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M:%S")


def _sms_page(records: Sequence[dict[str, Any]]) -> str:
    """The received text messages, newest first, for a person in a browser. Everything is escaped."""
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(value))}</td>"
            for value in (
                _local_time(record.get("received_at")),
                f"+{record.get('msisdn', '')}",
                record.get("sender", ""),
                record.get("message", ""),
            )
        )
        + "</tr>"
        for record in records
    )
    table = (
        "<table><thead><tr><th>Modtaget</th><th>Til</th><th>Afsender</th><th>Besked</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if records
        else "<p>Ingen sms'er endnu.</p>"
    )
    return f"""<!doctype html>
<html lang="da"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>Sms'er fra Fælles forløb (udvikling)</title>
<style>body{{font-family:sans-serif;margin:2rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}}
td:last-child{{white-space:pre-wrap;max-width:40rem}}</style></head>
<body><h1>Sms'er sendt fra Fælles forløb</h1>
<p>Nyeste først (højst {PAGE_LIMIT}). Intet her er sendt til en rigtig telefon. E-mails ligger i
<code>mail.jsonl</code> og <code>mail/*.eml</code> i samme mappe som <code>sms.jsonl</code>.</p>
{table}
</body></html>
"""


class SmsSink:
    """The SMS gateway sink on a background thread. `port=0` picks a free port; see `url` after `start()`."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = SmsStore(directory)
        self.host, self.port = host, port
        self._server: _SmsHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{SMS_PATH}"

    def answer_with(self, status: int | None) -> None:
        """Answer every POST with `status` (None: receive normally again)."""
        if self._server is not None:
            self._server.forced_status = status

    def start(self) -> SmsSink:
        self._server = _SmsHttpServer((self.host, self.port), self.store)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="sms-sink", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._server = self._thread = None


# --- Command line ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m config.sinks", description="A local mail (SMTP) or SMS gateway sink."
    )
    parser.add_argument("kind", choices=sorted(DEFAULT_PORTS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="default: 1025 for smtp, 1026 for sms")
    parser.add_argument("--dir", type=Path, default=Path(".var/sinks"), help="where to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    port = DEFAULT_PORTS[args.kind] if args.port is None else args.port
    sink: MailSink | SmsSink = (MailSink if args.kind == "smtp" else SmsSink)(
        args.dir, host=args.host, port=port
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    sink.start()
    where = f"http://{sink.host}:{sink.port}/" if args.kind == "sms" else f"{sink.host}:{sink.port}"
    logger.info("%s sink on %s, writing to %s", args.kind, where, args.dir.resolve())
    while not stopping.wait(1.0):
        pass
    sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
