"""A decoded ``page`` -> ``normalized_page`` (detector input), ``page_pixels_bgr``, its size
and the step's ``elapsed_ms``.

The page comes decoded (uint8 grayscale: the upright page of the document pipelines, through
``page_ocr``); sizing lives in ``docserve.processing.ocr_pipeline``, shared with the
in-process reference pipeline. An array that is no page, or a page over the configured pixel
limit, fails only its own request, with INVALID_ARG and the reason.
"""

from docserve.processing.ocr_pipeline import OcrSettings, prepare_page_pixels
from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.settings = OcrSettings(max_page_pixels=config.int_parameter("max_page_pixels"))

    def run(self, request):
        page = request.input("page")
        if check_page_array(page).size > self.settings.max_page_pixels:
            raise InvalidImageError(f"page is over {self.settings.max_page_pixels} pixels")
        prepared = prepare_page_pixels(page, self.settings)
        return {"normalized_page": prepared.detection_input, "page_pixels_bgr": prepared.page_bgr,
                "original_page_size": prepared.original_size}
