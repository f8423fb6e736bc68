"""docserve clients: the ``docserve`` command line, REST and direct Triton gRPC helpers.

``verify_callback`` is for the other side of a job's ``callback_url``: it checks the signature
docserve puts on every result callback when ``DOCSERVE_CALLBACK_SECRET`` is set.
"""

from docserve.contract.callback_signature import InvalidCallbackSignature, verify_callback

__all__ = ["InvalidCallbackSignature", "verify_callback"]
