"""``page`` -> ``page_thumbnail`` ([1, 1, 512, 512] ink) and ``page_size`` ([height, width])."""

from docserve.processing.page_image import check_page_array
from docserve.processing.page_thumbnail import page_thumbnail
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        page = check_page_array(request.input("page"))
        return {"page_thumbnail": page_thumbnail(page)[None], "page_size": page.shape}
