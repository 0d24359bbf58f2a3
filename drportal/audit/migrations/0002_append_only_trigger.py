from django.db import migrations

# The app refuses updates and deletes (AuditQuerySet, AuditEvent.save); this trigger refuses them for
# everyone else too: the admin, a shell, a raw SQL statement. TRUNCATE is left to the table's owner:
# Django's test runner empties tables with it between transactional tests.
SQL = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS audit_no_update_delete ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
