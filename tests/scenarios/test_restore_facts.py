"""What a notice may say of a database the server-crash runbook restores in two steps (its volume, then Cloud
Storage for what the volume lacked): one fact per database, read from both rows, never "restored" for a
handover no step has taken up, never "not restored" next to "restored"."""

from __future__ import annotations

from datetime import UTC, datetime

from scenarios.choices import StepState
from scenarios.models import StepRun
from scenarios.notice_facts import restore_fact

POINT = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def row(step_id, state, *, outputs=None, skip_reason="", error="", position=0):
    return StepRun(step_id=step_id, item="jv-db-alamo-freight", state=state, outputs=outputs or {},
                   skip_reason=skip_reason, error=error, position=position)


VOLUME_HANDED_OVER = row("restore-databases", StepState.SUCCEEDED, outputs={"handover": "restore-from-storage"})
VOLUME_RECOVERED = row("restore-databases", StepState.SUCCEEDED, outputs={"volume": "jv-db1-data"})


def test_a_database_handed_over_and_restored_from_cloud_storage_is_restored_to_the_dumps_point():
    fact = restore_fact("jv-db-alamo-freight", [
        VOLUME_HANDED_OVER,
        row("restore-from-storage", StepState.SUCCEEDED, position=1,
            outputs={"backup": {"recovery_point": POINT.isoformat()}})])
    assert (fact.restored, fact.point) == (True, POINT)


def test_a_database_recovered_from_its_volume_is_restored_whatever_the_follow_up_says():
    fact = restore_fact("jv-db-alamo-freight", [
        VOLUME_RECOVERED,
        row("restore-from-storage", StepState.SKIPPED, position=1,
            outputs={"not_taken": True},
            skip_reason="branch not taken: restore-databases recovered jv-db-alamo-freight without handing over")])
    assert fact.restored


def test_a_handover_whose_cloud_storage_restore_failed_is_not_restored_and_says_the_failure():
    fact = restore_fact("jv-db-alamo-freight", [
        VOLUME_HANDED_OVER,
        row("restore-from-storage", StepState.FAILED, position=1, error="no viable backup in cloud storage")])
    assert (fact.restored, fact.why) == (False, "no viable backup in cloud storage")


def test_a_handover_no_step_has_taken_up_yet_is_not_called_restored():
    fact = restore_fact("jv-db-alamo-freight", [
        VOLUME_HANDED_OVER, row("restore-from-storage", StepState.PENDING, position=1)])
    assert not fact.restored
    assert fact.why == "its restore is pending"
    alone = restore_fact("jv-db-alamo-freight", [VOLUME_HANDED_OVER])
    assert (alone.restored, alone.why) == (False, "handed over to another restore, not yet done")


def test_a_database_restored_from_the_inventorys_dumps_is_restored_to_the_point_its_step_recorded():
    # restore_database from Asset.dumps (dump_restore) says its point at the top of its output, not under
    # "backup": the demo's notices read "restored from the copy of an unrecorded time" for every database.
    fact = restore_fact("jv-db-alamo-freight", [
        row("restore-databases", StepState.SUCCEEDED,
            outputs={"dump": {"key": "jv-db-alamo-freight/20261203T0400.dump"}, "recovery_point": POINT.isoformat(),
                     "rows_checked": True})])
    assert (fact.restored, fact.point) == (True, POINT)
