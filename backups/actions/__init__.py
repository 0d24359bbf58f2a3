"""Recovery actions that act on backups themselves: reconfigure_offsite (the policies' off-site rule after a
failover) and restore_repository (a code repository from its mirror's newest in-sync copy). They register in the
runbook engine's action registry (drportal/cloud/actions/base.py) when imported, from BackupsConfig.ready(), so
the cloud layer never imports backups."""
