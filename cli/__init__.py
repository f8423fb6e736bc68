"""The ``docserve`` command: the one place that composes the gateway's, training's and clients'
commands (the only package allowed to import all three)."""
