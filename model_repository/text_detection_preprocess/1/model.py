"""A page (``page_image_bytes`` or decoded ``page``) -> ``normalized_page`` (detector input),
``page_pixels_bgr``, its size and the step's ``elapsed_ms``.

Decoding and sizing live in ``docserve.processing.ocr_pipeline``, shared with the
in-process reference pipeline. Bytes that are no image, or an image over the configured pixel
limit, fail only their own request, with INVALID_ARG and the reason.
"""

from docserve.processing.ocr_pipeline import OcrSettings, prepare_page, prepare_page_pixels
from docserve.processing.page_image import InvalidImageError, check_page_array
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.settings = OcrSettings(max_page_pixels=config.int_parameter("max_page_pixels"))

    def run(self, request):
        page = self._page(request.optional_input("page_image_bytes"), request.optional_input("page"))
        return {"normalized_page": page.detection_input, "page_pixels_bgr": page.page_bgr,
                "original_page_size": page.original_size}

    def _page(self, encoded, decoded):
        if (encoded is None) == (decoded is None):
            raise InvalidImageError("send exactly one of 'page_image_bytes' and 'page'")
        if decoded is not None:
            if check_page_array(decoded).size > self.settings.max_page_pixels:
                raise InvalidImageError(f"page is over {self.settings.max_page_pixels} pixels")
            return prepare_page_pixels(decoded, self.settings)
        if encoded.size != 1:
            raise InvalidImageError(f"expected one page per request, got {encoded.size}")
        return prepare_page(encoded.reshape(-1)[0], self.settings)
