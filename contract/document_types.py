"""The document types the classifier tells apart, in the order of its output scores.

The synthetic page generator renders these types, the classifier's ``labels.txt`` and its
``config.pbtxt`` dims follow this order, and ``form_intake`` names some of them as expected
types. A classifier version trained on another label set ships its own ``labels.txt``
(:mod:`docserve.processing.document_labels`); this tuple is the default when a version has none.
"""

DOCUMENT_TYPES: tuple[str, ...] = ("application_form", "invoice", "letter", "receipt", "other")
