"""``page`` + ``orientation_probabilities`` -> ``upright_page``, ``orientation_degrees``,
``orientation_score`` and ``page_size`` ([height, width] of the page as sent)."""

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.page_orientation import read_orientation, turn_upright
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def execute(self, requests):
        return [self._turn(request) for request in requests]

    def _turn(self, request):
        clock = StepClock()
        page = pb_utils.get_input_tensor_by_name(request, "page").as_numpy()
        probabilities = pb_utils.get_input_tensor_by_name(request, "orientation_probabilities")
        try:
            check_page_array(page)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        orientation = read_orientation(probabilities.as_numpy())
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("upright_page", turn_upright(page, orientation.degrees)),
            pb_utils.Tensor("orientation_degrees", np.array([orientation.degrees], dtype=np.float32)),
            pb_utils.Tensor("orientation_score", np.array([orientation.score], dtype=np.float32)),
            pb_utils.Tensor("page_size", np.array(page.shape, dtype=np.int32)),
            pb_utils.Tensor("elapsed_ms", clock.elapsed_ms()),
        ])
