"""``page`` -> ``checkbox_candidate_boxes`` [N, 4] and ``checkbox_crops`` [N, 1, 32, 32]."""

import time

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.export.processing.checkboxes import crop_candidates, find_candidates
from docserve.export.processing.page_image import InvalidImageError, check_page_array


class TritonPythonModel:
    def execute(self, requests):
        return [self._candidates(request) for request in requests]

    def _candidates(self, request):
        started = time.perf_counter()
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
            pb_utils.Tensor("elapsed_ms", np.array([(time.perf_counter() - started) * 1000], np.float32)),
        ])
