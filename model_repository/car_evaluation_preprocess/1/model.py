"""Car attribute strings -> one-hot ``car_features`` (shared encoding: car_features.py)."""

from docserve.processing.car_features import ATTRIBUTES, encode_columns
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        return {"car_features": encode_columns({name: request.input(name).reshape(-1)
                                                for name in ATTRIBUTES})}
