"""In-app notifications and the Email service (templates, backends, the `email.send` job).

Every mail goes through one door, `loumo.notifications.email.send_email`: it validates the
address, name, template and context, then defers the sending in the caller's transaction.
`service.notify` uses it for the notices that also go by email.
"""
