"""Calling docserve's pipelines on Triton: one gRPC client, the pipeline catalog, one page's run.

The gateway's workers and the Python clients (``docserve submit --via grpc``) call pipelines the
same way, so this sits below both of them.
"""
