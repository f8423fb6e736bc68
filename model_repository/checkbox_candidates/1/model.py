"""``page`` -> ``checkbox_candidate_boxes`` [N, 4] and ``checkbox_crops`` [N, 1, 32, 32]."""

import triton_python_backend_utils as pb_utils

from docserve.processing.checkboxes import crop_candidates, find_candidates
from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def execute(self, requests):
        return [self._candidates(request) for request in requests]

    def _candidates(self, request):
        clock = StepClock()
        page = pb_utils.get_input_tensor_by_name(request, "page").as_numpy()
        try:
            check_page_array(page)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        boxes = find_candidates(page)
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("checkbox_candidate_boxes", boxes),
            pb_utils.Tensor("checkbox_crops", crop_candidates(page, boxes)),
            pb_utils.Tensor("elapsed_ms", clock.elapsed_ms()),
        ])
