"""E-mail through Django's SMTP backend: one connection per batch, HTML and plain text.

The backend opens the connection (TLS, login, time-out from settings); each message is then sent as
MAIL / RCPT / DATA on that connection so an error can be placed exactly: a refusal or a dropped connection
before the end of DATA means the message did not leave; only a failure while waiting for the reply to DATA
leaves it in doubt (the server may have accepted it)."""

from __future__ import annotations

import secrets
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import sanitize_address
from django.utils.text import slugify

from notifications.channels.base import IN_DOUBT, REFUSED, TEMPORARY, UNAVAILABLE, ChannelAdapter, Message


class EmailAdapter(ChannelAdapter):
    name = "smtp"
    channel = "email"

    def __init__(self) -> None:
        self.backend = None

    def open(self) -> None:
        self.backend = get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False)
        try:
            self.backend.open()
        except (OSError, smtplib.SMTPException) as exc:
            self.backend = None
            raise self.error(f"cannot connect to the SMTP server: {exc}", UNAVAILABLE) from exc

    def close(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            finally:
                self.backend = None

    def build(self, message: Message) -> EmailMultiAlternatives:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
        mail = EmailMultiAlternatives(
            message.subject, message.text, settings.DEFAULT_FROM_EMAIL, [message.address],
            # A stable Message-ID per delivery lets a receiving system (or a person) spot a duplicate.
            headers={"Message-ID": f"<delivery-{message.delivery_id}@{slugify(domain) or 'localhost'}>",
                     "X-Drportal-Delivery": str(message.delivery_id)},
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        return mail

    def send(self, message: Message) -> None:
        if self.backend is None or self.backend.connection is None:
            self.open()
        conn: smtplib.SMTP = self.backend.connection
        mail = self.build(message)
        try:
            sender = sanitize_address(mail.from_email, mail.encoding)
            recipient = sanitize_address(message.address, mail.encoding)
        except ValueError as exc:
            raise self.error(f"invalid address {message.address!r}: {exc}", REFUSED) from exc
        mime = mail.message()
        if mime.is_multipart():
            # The stdlib would pick a random boundary and compile a regular expression per message to check it
            # (a third of the CPU of a send); a token of our own checked with a substring test is as safe.
            boundary = f"==drportal-{message.delivery_id}-{secrets.token_hex(8)}=="
            if boundary not in message.text and boundary not in message.html:
                mime.set_boundary(boundary)
        payload = mime.as_bytes(linesep="\r\n")
        try:
            conn.ehlo_or_helo_if_needed()
            code, reply = conn.mail(sender)
            if code != 250:
                raise self._refused(conn, code, reply, "sender")
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                raise self._refused(conn, code, reply, "recipient")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise self.error(f"connection lost before the message was sent: {exc}", UNAVAILABLE) from exc
        try:
            code, reply = conn.data(payload)
        except smtplib.SMTPDataError as exc:
            conn.rset()
            kind = REFUSED if exc.smtp_code >= 500 else TEMPORARY
            raise self.error(f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}", kind) from exc
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise self.error(f"connection lost while the server was accepting the message: {exc}", IN_DOUBT) from exc
        if code != 250:
            # smtplib returns (not raises) the reply to the end of DATA: a bounce at this point is here.
            conn.rset()
            kind = REFUSED if code >= 500 else TEMPORARY
            raise self.error(f"message refused: {code} {_text(reply)}", kind)

    def _refused(self, conn: smtplib.SMTP, code: int, reply: bytes, what: str):
        conn.rset()
        kind = REFUSED if code >= 500 else TEMPORARY
        return self.error(f"{what} refused: {code} {_text(reply)}", kind)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
