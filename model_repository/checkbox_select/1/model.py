"""Candidate boxes + state probabilities -> ``checkbox_boxes``, ``checkbox_checked``, confidence."""

import triton_python_backend_utils as pb_utils

from docserve.processing.checkboxes import decide


class TritonPythonModel:
    def execute(self, requests):
        return [self._select(request) for request in requests]

    def _select(self, request):
        boxes = pb_utils.get_input_tensor_by_name(request, "checkbox_candidate_boxes").as_numpy()
        probabilities = pb_utils.get_input_tensor_by_name(
            request, "checkbox_state_probabilities").as_numpy()
        if len(boxes) != len(probabilities):
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(
                f"{len(boxes)} candidate boxes but {len(probabilities)} state probability rows",
                pb_utils.TritonError.INVALID_ARG,
            ))
        decision = decide(boxes, probabilities)
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("checkbox_boxes", decision.boxes),
            pb_utils.Tensor("checkbox_checked", decision.checked),
            pb_utils.Tensor("checkbox_confidence", decision.confidence),
        ])
