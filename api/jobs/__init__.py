"""Asynchronous jobs: the durable queue/store, the workers that drain it, result callbacks."""
