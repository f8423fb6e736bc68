"""What every part of docserve agrees on: result and job models, error codes, document types.

Pydantic and the standard library only: the gateway, the clients, training and the Triton python
models all import it, so it must be cheap to import anywhere.
"""
