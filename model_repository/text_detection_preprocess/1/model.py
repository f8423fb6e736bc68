"""A page (``page_image_bytes`` or decoded ``page``) -> ``normalized_page`` (detector input),
``page_pixels_bgr``, its size and the step's ``elapsed_ms``.

Decoding and sizing live in ``docserve.processing.ocr_pipeline``, shared with the
in-process reference pipeline. Bytes that are no image, or an image over the configured pixel
limit, fail only their own request, with INVALID_ARG and the reason.
"""

import json

import triton_python_backend_utils as pb_utils

from docserve.processing.ocr_pipeline import OcrSettings, prepare_page, prepare_page_pixels
from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.step_timing import StepClock


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        self.settings = OcrSettings(max_page_pixels=int(parameters["max_page_pixels"]))
        self.output_dtypes = {
            output["name"]: pb_utils.triton_string_to_numpy(output["data_type"])
            for output in config["output"]
        }

    def execute(self, requests):
        return [self._prepare(request) for request in requests]

    def _prepare(self, request):
        clock = StepClock()
        try:
            page = self._page(request)
        except InvalidImageError as error:
            return pb_utils.InferenceResponse(
                error=pb_utils.TritonError(str(error), pb_utils.TritonError.INVALID_ARG)
            )
        outputs = {
            "normalized_page": page.detection_input,
            "page_pixels_bgr": page.page_bgr,
            "original_page_size": page.original_size,
            "elapsed_ms": clock.elapsed_ms(),
        }
        return pb_utils.InferenceResponse(
            [
                pb_utils.Tensor(name, value.astype(self.output_dtypes[name], copy=False))
                for name, value in outputs.items()
            ]
        )

    def _page(self, request):
        encoded = pb_utils.get_input_tensor_by_name(request, "page_image_bytes")
        decoded = pb_utils.get_input_tensor_by_name(request, "page")
        if (encoded is None) == (decoded is None):
            raise InvalidImageError("send exactly one of 'page_image_bytes' and 'page'")
        if decoded is not None:
            check_page_array(decoded.as_numpy())
            if decoded.as_numpy().size > self.settings.max_page_pixels:
                raise InvalidImageError(f"page is over {self.settings.max_page_pixels} pixels")
            return prepare_page_pixels(decoded.as_numpy(), self.settings)
        encoded = encoded.as_numpy()
        if encoded.size != 1:
            raise InvalidImageError(f"expected one page per request, got {encoded.size}")
        return prepare_page(encoded.reshape(-1)[0], self.settings)
