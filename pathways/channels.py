"""The ways a message leaves the product: e-mail through Django's SMTP backend and SMS through a gateway
adapter (an HTTP POST in the shape of a Danish SMS gateway's REST API, GatewayAPI's `/rest/mtsms`).
In-app messages and letters do not leave: the outbox marks them delivered, the bell and the print queue
show them.

Each send carries the outbox row's public id as idempotency key (e-mail: the Message-ID; SMS: the
`userref` field and an `Idempotency-Key` header), so a message sent again after a worker died between
sending and recording it is recognised as the same message by the receiving end.

Errors are sorted into two kinds: `TransientSendError` (the receiving end is down or busy: try again
later) and `PermanentSendError` (the address or the message is refused: trying again will not help).
Neither carries the message or the address.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection


class TransientSendError(Exception):
    """The channel could not take the message now; the outbox tries again with backoff."""


class PermanentSendError(Exception):
    """The channel refused the message; the outbox marks it failed for an administrator to see."""


class MessageNotWanted(PermanentSendError):
    """The recipient may no longer get this message (a relative whose consent has since ended or
    narrowed): the outbox cancels it rather than failing it."""


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    address: str
    subject: str
    body: str


def send_email(message: OutgoingMessage) -> None:
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.address],
        headers={"Message-ID": f"<{message.idempotency_key}@{settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>"},
        connection=get_connection(timeout=settings.NOTIFICATION_SEND_TIMEOUT),
    )
    try:
        email.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
        raise PermanentSendError(type(error).__name__) from None
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:  # 4xx: "try again later" in SMTP
            raise TransientSendError(f"SMTP {error.smtp_code}") from None
        raise PermanentSendError(f"SMTP {error.smtp_code}") from None
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        raise TransientSendError(type(error).__name__) from None


def _msisdn(phone: str) -> int:
    """A Danish phone number as the gateway wants it: country code and digits, e.g. 4522416318."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if phone.strip().startswith("+") or (len(digits) > 8 and digits.startswith("45")):
        return int(digits)
    if len(digits) != 8:
        raise PermanentSendError("not a Danish mobile number")
    return int("45" + digits)


def send_sms(message: OutgoingMessage) -> None:
    payload = {
        "sender": settings.SMS_SENDER,
        "message": message.body,
        "recipients": [{"msisdn": _msisdn(message.address)}],
        "userref": message.idempotency_key,
    }
    headers = {"Idempotency-Key": message.idempotency_key}
    if settings.SMS_GATEWAY_TOKEN:
        headers["Authorization"] = f"Token {settings.SMS_GATEWAY_TOKEN}"
    try:
        response = httpx.post(
            settings.SMS_GATEWAY_URL,
            json=payload,
            headers=headers,
            timeout=settings.NOTIFICATION_SEND_TIMEOUT,
        )
    except httpx.TransportError as error:
        raise TransientSendError(type(error).__name__) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSendError(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise PermanentSendError(f"HTTP {response.status_code}")
