"""Asynchronous jobs: the store and queue interfaces and their SQLite implementation, the job
service, the workers that drain the queue, uploads and result callbacks."""
