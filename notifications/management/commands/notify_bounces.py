"""Collect late bounces (see notifications.bounces): serve the bounce address's domain over SMTP, or record
one message piped in by an MTA."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from notifications import bounces


class Command(BaseCommand):
    help = "Receive delivery status notifications for the NOTIFY_BOUNCE_ADDRESS and mark deliveries bounced."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--listen", metavar="HOST:PORT", help="serve SMTP for bounce addresses (aiosmtpd)")
        mode.add_argument("--recipient", metavar="ADDRESS",
                          help="the bounce address one message on standard input was sent to (an MTA pipe)")

    def handle(self, *args, listen=None, recipient=None, **options):
        if not bounces.bounce_address():
            raise CommandError("NOTIFY_BOUNCE_ADDRESS is not set: mail leaves without per-delivery bounce addresses")
        if recipient:
            delivery_id = bounces.delivery_for(recipient)
            if delivery_id is None:
                raise CommandError(f"{recipient!r} is not a bounce address of this installation")
            outcome = bounces.record(delivery_id, sys.stdin.buffer.read())
            self.stdout.write(f"delivery {delivery_id}: {outcome}")
            return
        from aiosmtpd.controller import Controller

        host, _, port = listen.rpartition(":")
        controller = Controller(bounces.BounceHandler(), hostname=host or "127.0.0.1", port=int(port))
        controller.start()
        self.stdout.write(f"collecting bounces for {bounces.bounce_address()} on {listen}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
