"""``page`` -> ``page_thumbnail`` ([1, 1, 512, 512] ink) and ``page_size`` ([height, width])."""

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.page_thumbnail import page_thumbnail
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def execute(self, requests):
        return [self._thumbnail(request) for request in requests]

    def _thumbnail(self, request):
        clock = StepClock()
        page = pb_utils.get_input_tensor_by_name(request, "page").as_numpy()
        try:
            check_page_array(page)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("page_thumbnail", page_thumbnail(page)[None]),
            pb_utils.Tensor("page_size", np.array(page.shape, dtype=np.int32)),
            pb_utils.Tensor("elapsed_ms", clock.elapsed_ms()),
        ])
