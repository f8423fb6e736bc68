"""``class_probabilities`` -> ``predicted_label`` (label order: car_features.CLASS_LABELS)."""

from docserve.processing.car_features import labels_for
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        labels = labels_for(request.input("class_probabilities"))
        return {"predicted_label": [[label.encode()] for label in labels]}
