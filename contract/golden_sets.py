"""A model's golden set: the files ``docserve export`` writes beside a model, which the
promotion gate (``docserve models promote``) runs through the live and the candidate version.

``<model>/golden/`` (Triton ignores folders that are not version numbers) holds
``golden.json`` {"input", "output", "metric", "max_drop", "input_scale"?}, ``inputs.npy`` (a
batch of the model's input, times ``input_scale`` when stored as integers) and ``expected.npy``
(labels for accuracy, values for the error). The writers are in the training package and the
reader in the gateway, which do not import each other: the names live here, below both.
"""

from __future__ import annotations

from enum import Enum

GOLDEN_FOLDER = "golden"
SPEC_FILE = "golden.json"
INPUTS_FILE = "inputs.npy"
EXPECTED_FILE = "expected.npy"


class GoldenMetric(str, Enum):
    ACCURACY = "accuracy"  # of the most probable class against labels: higher is better
    MEAN_ABSOLUTE_ERROR = "mean_absolute_error"  # against values: lower is better
