"""``page_image_bytes`` -> ``normalized_page`` (detector input), ``page_pixels_bgr``, size.

Decoding and sizing live in ``docserve.export.processing.ocr_pipeline.prepare_page``, shared with
the in-process reference pipeline. Bytes that are no image, or an image over the configured
pixel limit, fail only their own request, with INVALID_ARG and the reason.
"""

import json

import triton_python_backend_utils as pb_utils

from docserve.export.processing.ocr_pipeline import OcrSettings, prepare_page
from docserve.export.processing.page_image import InvalidImageError


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
        page_image_bytes = pb_utils.get_input_tensor_by_name(request, "page_image_bytes").as_numpy()
        if page_image_bytes.size != 1:
            return _invalid(f"expected one page per request, got {page_image_bytes.size}")
        try:
            page = prepare_page(page_image_bytes.reshape(-1)[0], self.settings)
        except InvalidImageError as error:
            return _invalid(str(error))
        outputs = {
            "normalized_page": page.detection_input,
            "page_pixels_bgr": page.page_bgr,
            "original_page_size": page.original_size,
        }
        return pb_utils.InferenceResponse(
            [
                pb_utils.Tensor(name, value.astype(self.output_dtypes[name], copy=False))
                for name, value in outputs.items()
            ]
        )


def _invalid(message):
    return pb_utils.InferenceResponse(
        error=pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG)
    )
