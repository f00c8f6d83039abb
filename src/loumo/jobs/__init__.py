"""Background jobs: the outbox, the dispatcher and broker relay, workers and periodic jobs."""
