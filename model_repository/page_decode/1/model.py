"""``page_bytes`` -> ``page`` (uint8 [height, width]); bad images fail their request only."""

from docserve.processing.page_image import InvalidImageError, decode_page_gray
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def setup(self, config):
        self.max_pixels = config.int_parameter("max_pixels")

    def run(self, request):
        encoded = request.input("page_bytes").reshape(-1)
        if len(encoded) != 1:
            raise InvalidImageError(f"expected one encoded page, got {len(encoded)}")
        return {"page": decode_page_gray(bytes(encoded[0]), max_pixels=self.max_pixels)}
