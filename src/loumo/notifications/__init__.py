"""In-app notifications and the Email service (templates, backends, the `email.send` job)."""
