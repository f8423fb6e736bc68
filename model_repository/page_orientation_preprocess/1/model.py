"""``page`` -> ``orientation_input`` ([crops, 3, 224, 224]) for the ``page_orientation`` model."""

import triton_python_backend_utils as pb_utils

from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.page_orientation import orientation_input
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def execute(self, requests):
        return [self._prepare(request) for request in requests]

    def _prepare(self, request):
        clock = StepClock()
        page = pb_utils.get_input_tensor_by_name(request, "page").as_numpy()
        try:
            check_page_array(page)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("orientation_input", orientation_input(page)),
            pb_utils.Tensor("elapsed_ms", clock.elapsed_ms()),
        ])
