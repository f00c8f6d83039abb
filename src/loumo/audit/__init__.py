"""The audit log: who did what to which entity, from where, and what changed."""
