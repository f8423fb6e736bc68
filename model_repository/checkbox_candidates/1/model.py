"""``page`` -> ``checkbox_candidate_boxes`` [N, 4] and ``checkbox_crops`` [N, 1, 32, 32]."""

from docserve.processing.checkboxes import crop_candidates, find_candidates
from docserve.processing.page_image import check_page_array
from docserve.processing.triton_step import TritonStep


class TritonPythonModel(TritonStep):
    def run(self, request):
        page = check_page_array(request.input("page"))
        boxes = find_candidates(page)
        return {"checkbox_candidate_boxes": boxes, "checkbox_crops": crop_candidates(page, boxes)}
