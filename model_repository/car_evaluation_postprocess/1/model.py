"""``class_probabilities`` -> ``predicted_label`` (label order: car_features.CLASS_LABELS)."""

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.car_features import labels_for


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            probabilities = pb_utils.get_input_tensor_by_name(request, "class_probabilities").as_numpy()
            labels = np.array([[label.encode()] for label in labels_for(probabilities)], dtype=np.object_)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("predicted_label", labels)]))
        return responses
