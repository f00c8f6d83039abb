"""File upload service: image intake, content-addressed storage, reference counting."""
