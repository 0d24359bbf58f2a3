"""What a person can do with a delivery that did not simply go out: retry a failed one, and for one in
doubt either resend it (accepting a possible duplicate) or mark it delivered."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from drportal.audit import log as audit
from notifications.choices import DeliveryState
from notifications.models import Delivery

ACTIONS = {
    "retry": ({DeliveryState.FAILED}, DeliveryState.QUEUED),
    "resend": ({DeliveryState.IN_DOUBT}, DeliveryState.QUEUED),
    "mark_delivered": ({DeliveryState.IN_DOUBT}, DeliveryState.SENT),
}


def resolve(actor, delivery_id: int, action: str) -> Delivery:
    if action not in ACTIONS:
        raise ValidationError({"action": f"unknown action {action!r}; one of {', '.join(ACTIONS)}"})
    allowed_from, to = ACTIONS[action]
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.state not in allowed_from:
            raise ValidationError(
                {"action": f"cannot {action.replace('_', ' ')} a delivery that is {delivery.get_state_display()}"}
            )
        before = {"state": delivery.state, "error": delivery.error}
        delivery.state, delivery.resolved_by = to, actor
        fields = ["state", "resolved_by"]
        if action in ("retry", "resend"):
            # A person's retry gets a fresh budget of automatic attempts (sender.MAX_ATTEMPTS).
            delivery.attempts, delivery.retry_at = 0, None
            fields += ["attempts", "retry_at"]
        if action == "mark_delivered":
            delivery.error = f"marked delivered by {actor}"
            fields.append("error")
        delivery.save(update_fields=fields)
        # The row's str() would show a webhook's URL, which is a credential.
        from notifications.channels import shown_address

        ref = Delivery(pk=delivery.pk, channel=delivery.channel,
                       address=shown_address(delivery.channel, delivery.address), state=to)
        audit.record(actor, f"delivery.{action}", ref, before=before, after={"state": to})
        if to == DeliveryState.QUEUED:
            from notifications import jobs

            if delivery.notice_id:
                jobs.enqueue_on_commit(jobs.send_notice, delivery.notice_id)
            else:
                jobs.enqueue_on_commit(jobs.send_page, delivery.page_id)
    return delivery
