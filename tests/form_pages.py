"""A rendered form whose every field is known: the form-fields tests' page.

A membership application: typed values right of their keys, a field left empty, a checkbox
question with its options on one row, and a signature over its label with the date beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docserve.export.documents.canvas import PageCanvas
from docserve.export.documents.fonts import BOLD_FONTS, PRINT_FONTS, load_font
from docserve.export.documents.handwriting import draw_checkbox, draw_signature

TEXT_FIELDS = {"Name:": "John Smith", "Date of birth:": "05/12/1996", "City:": "Springfield"}
EMPTY_FIELD = "Phone:"
CHECKBOX_QUESTION = "Marital status:"
CHECKBOX_OPTIONS = {"single": False, "married": True, "widowed": False}
SIGNATURE_LABEL = "Signature"
SIGNATURE_DATE = "06/01/2024"


@dataclass(frozen=True)
class FormPage:
    image: np.ndarray  # uint8 [height, width]
    signature_box: tuple[float, float, float, float]


def membership_form(seed: int = 5) -> FormPage:
    rng = np.random.default_rng(seed)
    canvas = PageCanvas(1240, 1754)
    body, bold = load_font(PRINT_FONTS[0], 30), load_font(BOLD_FONTS[0], 30)
    canvas.text((120, 110), "Membership Application", load_font(BOLD_FONTS[0], 48))
    y = 260
    for key, value in [*TEXT_FIELDS.items(), (EMPTY_FIELD, None)]:
        canvas.text((120, y), key, bold)
        canvas.line([(480, y + 40), (1100, y + 40)], ink=90)
        if value is not None:
            canvas.text((500, y), value, body)
        y += 100
    canvas.text((120, y), CHECKBOX_QUESTION, bold)
    x = 480
    for option, checked in CHECKBOX_OPTIONS.items():
        draw_checkbox(canvas, rng, (x, y + 4), 28, checked=checked)
        canvas.text((x + 42, y), option, body)
        x += 60 + canvas.text_width(option, body) + 60
    y += 260
    canvas.line([(120, y), (620, y)], ink=60)
    draw_signature(canvas, rng, (140, y - 110, 600, y + 10))
    canvas.text((120, y + 10), SIGNATURE_LABEL, body)
    canvas.text((760, y + 10), "Date:", bold)
    canvas.text((880, y + 10), SIGNATURE_DATE, body)
    return FormPage(np.asarray(canvas.image), canvas.signature_box)
