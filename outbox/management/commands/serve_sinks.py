from __future__ import annotations

import logging
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from drportal.lib.stopping import wait_for_stop
from outbox import sinks


class Command(BaseCommand):
    help = ("Development only: receive the demo's mail (SMTP) and SMS and webhook posts (HTTP) and keep them for "
            "the Outbox page. `make run` starts it and points EMAIL_HOST/EMAIL_PORT and SMS_GATEWAY_URL at it.")

    def add_arguments(self, parser):
        parser.add_argument("--smtp-port", type=int, default=None, help="default: EMAIL_PORT")
        parser.add_argument("--http-port", type=int, default=None, help="default: SINK_HTTP_PORT")

    def handle(self, *args, smtp_port: int | None, http_port: int | None, **options):
        if settings.PRODUCTION:
            raise CommandError("the sinks swallow every message: they never run with DRPORTAL_ENV=production")
        smtp_port = smtp_port or settings.EMAIL_PORT
        http_port = http_port or int(os.environ.get("SINK_HTTP_PORT") or 0)
        if not http_port:
            raise CommandError("give --http-port or SINK_HTTP_PORT")
        # aiosmtpd logs every connection at INFO; the Outbox page is the record of what arrived.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        try:
            smtp = sinks.start_smtp("127.0.0.1", smtp_port)
            http = sinks.start_http("127.0.0.1", http_port)
        except OSError as exc:
            raise CommandError(f"a sink could not listen on its port (SMTP {smtp_port}, HTTP {http_port}): "
                               f"{exc.strerror or exc}") from None
        self.stdout.write(f"sinks: SMTP on 127.0.0.1:{smtp_port}, SMS and webhooks on http://127.0.0.1:{http_port}/",
                          )
        self.stdout.flush()
        try:
            wait_for_stop()
        finally:
            http.shutdown()
            smtp.stop()
