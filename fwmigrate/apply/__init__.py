"""Putting a translated ruleset into the kernel safely: one transaction through libnftables,
check mode, backups and rollback, a confirmation window, a lockout guard, persistence."""
