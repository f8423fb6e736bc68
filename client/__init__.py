"""docserve clients: the ``docserve`` command line, REST and direct Triton gRPC helpers."""
