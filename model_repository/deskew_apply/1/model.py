"""``page`` + ``skew_degrees`` -> ``deskewed_page`` (rotated back, canvas grown, paper-white)."""

import triton_python_backend_utils as pb_utils

from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.page_rotation import deskew_page
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def execute(self, requests):
        return [self._deskew(request) for request in requests]

    def _deskew(self, request):
        clock = StepClock()
        page = pb_utils.get_input_tensor_by_name(request, "page").as_numpy()
        skew = pb_utils.get_input_tensor_by_name(request, "skew_degrees").as_numpy()
        try:
            check_page_array(page)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        upright = deskew_page(page, float(skew.ravel()[0]))
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("deskewed_page", upright),
            pb_utils.Tensor("elapsed_ms", clock.elapsed_ms()),
        ])
