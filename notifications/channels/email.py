"""E-mail through Django's SMTP backend: one connection per batch, HTML and plain text.

The backend opens the connection (TLS, login, time-out from settings); each message is then sent as
MAIL / RCPT / DATA on that connection so an error can be placed exactly: a refusal or a dropped connection
before the end of DATA means the message did not leave; only a failure while waiting for the reply to DATA
leaves it in doubt (the server may have accepted it).

When the server offers PIPELINING (RFC 2920; Postfix, Exim and the big relays do), MAIL, RCPT and DATA go in
one write and their three replies are read together: two round trips per message instead of four. The sender
also writes the next message's envelope (prepare()) while it records the previous outcome in the database:
an envelope delivers nothing until its content follows, and send() writes the content only after that
record is done, so at most one message is ever in flight unrecorded."""

from __future__ import annotations

import secrets
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import sanitize_address
from django.utils.text import slugify

from drportal.cloud.adapters.errors import AdapterError
from notifications.channels.base import IN_DOUBT, REFUSED, TEMPORARY, UNAVAILABLE, ChannelAdapter, Message


class EmailAdapter(ChannelAdapter):
    name = "smtp"
    channel = "email"

    def __init__(self) -> None:
        self.backend = None
        self._prepared: int | None = None  # the delivery whose envelope is written and whose replies are due
        self._from: str | None = None
        self._addressed: tuple[int, tuple[str, str]] | None = None

    def open(self) -> None:
        self.backend = get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False)
        try:
            self.backend.open()
        except (OSError, smtplib.SMTPException) as exc:
            self.backend = None
            raise self.error(f"cannot connect to the SMTP server: {exc}", UNAVAILABLE) from exc

    def close(self) -> None:
        self._prepared = None
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
        if message.unsubscribe_url:
            # RFC 2369 names the link; RFC 8058 says a POST of "List-Unsubscribe=One-Click" to it unsubscribes
            # without a page in between (status_views.unsubscribe takes that POST). Gmail and Yahoo require
            # both headers of bulk senders and show an "Unsubscribe" button for them.
            mail.extra_headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        return mail

    def _addresses(self, message: Message) -> tuple[str, str]:
        """(envelope sender, recipient) as SMTP wants them; an address SMTP cannot carry is refused here."""
        if self._addressed and self._addressed[0] == message.delivery_id:
            return self._addressed[1]  # worked out by prepare() (parsing an address is not cheap)
        try:
            if self._from is None:
                self._from = sanitize_address(settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_CHARSET)
            recipient = sanitize_address(message.address, settings.DEFAULT_CHARSET)
            sender = self.envelope_sender(message, self._from)
            sender.encode("ascii"), recipient.encode("ascii")
        except ValueError as exc:  # UnicodeEncodeError included
            raise self.error(f"invalid address {message.address!r}: {exc}", REFUSED) from exc
        self._addressed = (message.delivery_id, (sender, recipient))
        return sender, recipient

    @staticmethod
    def _envelope(sender: str, recipient: str) -> bytes:
        return f"MAIL FROM:{smtplib.quoteaddr(sender)}\r\nRCPT TO:{smtplib.quoteaddr(recipient)}\r\nDATA\r\n".encode()

    def envelope_sender(self, message: Message, sender: str) -> str:
        """The MAIL FROM address, where the recipient's server returns a late bounce: the delivery's own
        signed bounce address when NOTIFY_BOUNCE_ADDRESS is set (notifications.bounces)."""
        from notifications import bounces

        return bounces.verp_address(message.delivery_id) or sender

    def _pipelining(self, conn: smtplib.SMTP) -> bool:
        return bool(conn.does_esmtp and conn.has_extn("pipelining"))

    def prepare(self, message: Message) -> None:
        """Write the next message's envelope without waiting for the replies (PIPELINING only); send() reads
        them. Nothing is delivered by an envelope alone, and any trouble here is found again by send()."""
        self._prepared = None
        if self.backend is None or self.backend.connection is None:
            return
        conn: smtplib.SMTP = self.backend.connection
        try:
            envelope = self._envelope(*self._addresses(message))
        except AdapterError:
            return  # send() refuses it
        try:
            conn.ehlo_or_helo_if_needed()
            if not self._pipelining(conn):
                return
            conn.sock.sendall(envelope)
        except (OSError, smtplib.SMTPException):
            self.close()  # send() opens a fresh connection and says what is wrong
            return
        self._prepared = message.delivery_id

    def send(self, message: Message) -> None:
        pending, self._prepared = self._prepared, None
        prepared = pending == message.delivery_id
        if pending is not None and not prepared:
            self.close()  # another message's envelope replies are pending on this connection: start afresh
        if self.backend is None or self.backend.connection is None:
            prepared = False
            self.open()
        conn: smtplib.SMTP = self.backend.connection
        sender, recipient = self._addresses(message)
        payload = self._payload(message, self.build(message))
        try:
            conn.ehlo_or_helo_if_needed()
            if prepared or self._pipelining(conn):
                if not prepared:
                    conn.sock.sendall(self._envelope(sender, recipient))
                self._read_envelope_replies(conn)
                content = smtplib._quote_periods(payload)
                if not content.endswith(b"\r\n"):
                    content += b"\r\n"
                content += b".\r\n"
            else:
                code, reply = conn.mail(sender)
                if code != 250:
                    raise self._refused(conn, code, reply, "sender")
                code, reply = conn.rcpt(recipient)
                if code not in (250, 251):
                    raise self._refused(conn, code, reply, "recipient")
                content = None
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise self.error(f"connection lost before the message was sent: {exc}", UNAVAILABLE) from exc
        try:
            if content is None:
                code, reply = conn.data(payload)
            else:
                conn.sock.sendall(content)
                code, reply = conn.getreply()
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

    def _read_envelope_replies(self, conn: smtplib.SMTP) -> None:
        """The replies to a pipelined MAIL, RCPT and DATA, in order. A DATA that was answered 354 although the
        envelope was refused (a server breaking RFC 2920) gets an empty message, which has no recipient."""
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = (
            conn.getreply(), conn.getreply(), conn.getreply())
        problem = None
        if mail_code != 250:
            problem = ("sender", mail_code, mail_reply)
        elif rcpt_code not in (250, 251):
            problem = ("recipient", rcpt_code, rcpt_reply)
        if problem is not None:
            if data_code == 354:
                conn.sock.sendall(b".\r\n")
                conn.getreply()
            what, code, reply = problem
            raise self._refused(conn, code, reply, what)
        if data_code != 354:
            conn.rset()
            kind = REFUSED if data_code >= 500 else TEMPORARY
            raise self.error(f"message refused: {data_code} {_text(data_reply)}", kind)

    def _payload(self, message: Message, mail: EmailMultiAlternatives) -> bytes:
        mime = mail.message()
        if mime.is_multipart():
            # The stdlib would pick a random boundary and compile a regular expression per message to check it
            # (a third of the CPU of a send); a token of our own checked with a substring test is as safe.
            boundary = f"==drportal-{message.delivery_id}-{secrets.token_hex(8)}=="
            if boundary not in message.text and boundary not in message.html:
                mime.set_boundary(boundary)
        return mime.as_bytes(linesep="\r\n")

    def _refused(self, conn: smtplib.SMTP, code: int, reply: bytes, what: str):
        conn.rset()
        kind = REFUSED if code >= 500 else TEMPORARY
        return self.error(f"{what} refused: {code} {_text(reply)}", kind)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
