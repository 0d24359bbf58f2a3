from django.db import migrations

# BackupRecord.save() is not the only way in: the admin, a shell, raw SQL. Once a record has finished, its
# facts are frozen for everyone; only what is learnt later (observed checksum, restore tests) may change.
SQL = """
CREATE OR REPLACE FUNCTION backups_record_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.outcome <> 'running' AND (
        NEW.policy_id IS DISTINCT FROM OLD.policy_id
        OR NEW.asset_id IS DISTINCT FROM OLD.asset_id
        OR NEW.client_id IS DISTINCT FROM OLD.client_id
        OR NEW.started_at IS DISTINCT FROM OLD.started_at
        OR NEW.completed_at IS DISTINCT FROM OLD.completed_at
        OR NEW.outcome IS DISTINCT FROM OLD.outcome
        OR NEW.error IS DISTINCT FROM OLD.error
        OR NEW.size_bytes IS DISTINCT FROM OLD.size_bytes
        OR NEW.sha256 IS DISTINCT FROM OLD.sha256
        OR NEW.provider IS DISTINCT FROM OLD.provider
        OR NEW.region_id IS DISTINCT FROM OLD.region_id
        OR NEW.zone_id IS DISTINCT FROM OLD.zone_id
        OR NEW.container IS DISTINCT FROM OLD.container
        OR NEW.key IS DISTINCT FROM OLD.key
        OR NEW.provider_state IS DISTINCT FROM OLD.provider_state
        OR NEW.recovery_point IS DISTINCT FROM OLD.recovery_point
        OR NEW.viable IS DISTINCT FROM OLD.viable
        OR NEW.expires_at IS DISTINCT FROM OLD.expires_at
        OR NEW.source IS DISTINCT FROM OLD.source
    ) THEN
        RAISE EXCEPTION 'backup record % has finished: its facts cannot change', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER backups_record_immutable BEFORE UPDATE ON backups_backuprecord
    FOR EACH ROW EXECUTE FUNCTION backups_record_immutable();
"""

REVERSE = """
DROP TRIGGER IF EXISTS backups_record_immutable ON backups_backuprecord;
DROP FUNCTION IF EXISTS backups_record_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("backups", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
