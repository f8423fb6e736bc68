"""The four page models docserve trains: data preparation, torch models, training, evaluation.

``build.build_all`` (``docserve export models``) renders a training set with the document factory,
trains ``deskew``, ``doc_classifier``, ``checkbox`` and ``signature``, exports each with a parity
check, evaluates them on held-out pages through the serving path's shared processing and
onnxruntime (``reference``), and writes the model cards.
"""
