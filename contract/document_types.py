"""The document types the classifier tells apart, in the order of its output scores.

The synthetic page generator renders these types, the committed classifier versions' ``labels.txt``
follow this order, and ``form_intake`` names some of them as expected types (its ensemble
config; tests/model_repository/test_config_constants.py ties both to this tuple). A classifier
version trained on another label set ships its own ``labels.txt``
(:mod:`docserve.processing.document_labels`); this tuple is the default when a version has none.
"""

DOCUMENT_TYPES: tuple[str, ...] = ("application_form", "invoice", "letter", "receipt", "other")
