"""The key -> value model: FUNSD-format forms, a small layout transformer, training, export, evaluation.

``build.build`` (``docserve export key-values``) reads the FUNSD training forms (research terms:
read at training time, never committed), holds out forms by document, trains
:class:`model.KeyValueModel`, exports it to ``model_repository/key_values`` with the parity check,
evaluates the held-out forms (``evaluation``) and writes the model card.
"""
