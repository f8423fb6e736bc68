"""Model toolchain: data, training, torch -> ONNX export, parity checks, repository writer.

Importing ``docserve.export`` needs no torch; the training modules import it themselves.
"""
