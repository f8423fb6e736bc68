"""``page_bytes`` -> ``page`` (uint8 [height, width]); bad images fail their request only."""

import json

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.page_image import InvalidImageError, decode_page_gray
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_pixels = int(config["parameters"]["max_pixels"]["string_value"])

    def execute(self, requests):
        return [self._decode(request) for request in requests]

    def _decode(self, request):
        clock = StepClock()
        encoded = pb_utils.get_input_tensor_by_name(request, "page_bytes").as_numpy().reshape(-1)
        try:
            if len(encoded) != 1:
                raise InvalidImageError(f"expected one encoded page, got {len(encoded)}")
            page = decode_page_gray(bytes(encoded[0]), max_pixels=self.max_pixels)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("page", np.ascontiguousarray(page)),
            pb_utils.Tensor("elapsed_ms", clock.elapsed_ms()),
        ])
