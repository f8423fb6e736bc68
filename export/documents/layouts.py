"""One layout per document type, drawn on a :class:`PageCanvas` in unskewed page pixels (~150 dpi).

Layouts differ the way real documents do (forms have labelled fields, checkboxes and a signature
line; invoices a grid table and totals; letters paragraphs and a signature; receipts a narrow
monospaced strip; ``other`` a report with a table or chart), while fonts, sizes, margins and
content vary per seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import ImageFont

from docserve.export.documents import content
from docserve.export.documents.canvas import PageCanvas
from docserve.export.documents.fonts import (
    BOLD_FONTS,
    HANDWRITING_FONTS,
    MONO_FONTS,
    PRINT_FONTS,
    FontFile,
    load_font,
)
from docserve.export.documents.handwriting import draw_checkbox, draw_signature

PAGE_SIZES = ((1275, 1650), (1240, 1754))  # letter and A4 at 150 dpi


@dataclass
class Style:
    """The fonts and spacing one page is drawn with."""

    body: ImageFont.FreeTypeFont
    bold: ImageFont.FreeTypeFont
    title: ImageFont.FreeTypeFont
    hand: ImageFont.FreeTypeFont
    margin: int
    line_height: int


def _choose(rng: np.random.Generator, fonts: tuple[FontFile, ...]) -> FontFile:
    return fonts[int(rng.integers(len(fonts)))]


def _style(rng: np.random.Generator, body_fonts: tuple[FontFile, ...] = PRINT_FONTS) -> Style:
    size = int(rng.integers(19, 26))
    return Style(
        body=load_font(_choose(rng, body_fonts), size),
        bold=load_font(_choose(rng, BOLD_FONTS), size),
        title=load_font(_choose(rng, BOLD_FONTS), int(size * rng.uniform(1.5, 2.0))),
        hand=load_font(_choose(rng, HANDWRITING_FONTS), int(size * rng.uniform(1.2, 1.6))),
        margin=int(rng.integers(90, 150)),
        line_height=int(size * rng.uniform(1.35, 1.7)),
    )


def _page(rng: np.random.Generator) -> PageCanvas:
    width, height = PAGE_SIZES[int(rng.integers(len(PAGE_SIZES)))]
    return PageCanvas(width, height, paper_tone=int(rng.integers(238, 256)))


def _paragraph(canvas: PageCanvas, rng: np.random.Generator, style: Style, y: float,
               lines: int) -> float:
    """Left-aligned lines of filler text; returns the y below them."""
    right = canvas.width - style.margin
    for index in range(lines):
        words = content.sentence(rng, int(rng.integers(8, 16))).split()
        line = ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if style.margin + canvas.text_width(candidate, style.body) > right:
                break
            line = candidate
        if index == lines - 1:
            line = " ".join(line.split()[: max(2, len(line.split()) // 2)])
        canvas.text((style.margin, y), line, style.body)
        y += style.line_height
    return y + style.line_height * 0.6


def _signature_block(canvas: PageCanvas, rng: np.random.Generator, style: Style, x: float,
                     y: float, signed: bool) -> float:
    """A 'Signature' label over a line, signed or left empty; returns the y below it."""
    width = int(rng.integers(300, 420))
    height = int(rng.integers(70, 110))
    line_y = y + height
    canvas.line([(x, line_y), (x + width, line_y)], width=1, ink=60)
    canvas.text((x, line_y + 6), "Signature", style.body)
    if signed:
        area = (x + 10, y + height * 0.15, x + width - 10, line_y + height * 0.25)
        draw_signature(canvas, rng, area)
    return line_y + style.line_height * 2


def application_form(rng: np.random.Generator) -> PageCanvas:
    canvas, style = _page(rng), _style(rng)
    x, y = style.margin, style.margin
    canvas.text((x, y), content.pick(rng, content.FORM_TITLES), style.title)
    y += style.line_height * 3
    field_count = int(rng.integers(4, 8))
    for label in rng.choice(content.FORM_FIELDS, size=field_count, replace=False):
        canvas.text((x, y), f"{label}:", style.bold)
        value_x = x + int(rng.integers(230, 300))
        line_y = y + style.line_height
        canvas.line([(value_x, line_y), (canvas.width - style.margin, line_y)], ink=90)
        if rng.random() < 0.85:
            value = content.person_name(rng) if "name" in label else content.street_address(rng)
            canvas.text((value_x + 10, y - style.line_height * 0.35), value, style.hand,
                        ink=int(rng.integers(10, 80)), handwritten=True)
        y += style.line_height * 2.1
    y += style.line_height * 0.5
    for _ in range(int(rng.integers(2, 5))):
        y = _checkbox_row(canvas, rng, style, x, y)
    _signature_block(canvas, rng, style, x + int(rng.integers(0, 400)), y + style.line_height,
                     signed=rng.random() < 0.7)
    return canvas


def _checkbox_row(canvas: PageCanvas, rng: np.random.Generator, style: Style, x: float,
                  y: float) -> float:
    """A question with 2-4 labelled checkboxes; returns the y below the row."""
    question = content.sentence(rng, int(rng.integers(3, 7))).rstrip(".") + "?"
    canvas.text((x, y), question, style.body)
    y += style.line_height * 1.4
    side = int(rng.integers(18, 30))
    option_x = x + 20
    for option in rng.choice(content.CHECKBOX_OPTIONS, size=int(rng.integers(2, 5)), replace=False):
        draw_checkbox(canvas, rng, (option_x, y), side, checked=rng.random() < 0.5)
        label_y = y + side / 2 - style.line_height / 3
        canvas.text((option_x + side + 10, label_y), option, style.body)
        option_x += side + 40 + canvas.text_width(option, style.body) + int(rng.integers(10, 60))
    return y + side + style.line_height * 1.2


def invoice(rng: np.random.Generator) -> PageCanvas:
    canvas, style = _page(rng), _style(rng)
    x, y = style.margin, style.margin
    canvas.text((x, y), content.pick(rng, content.COMPANIES), style.title)
    y += style.line_height * 2
    for line in (content.street_address(rng), content.city_line(rng)):
        canvas.text((x, y), line, style.body)
        y += style.line_height
    y += style.line_height
    canvas.text((canvas.width - style.margin - 300, y), "INVOICE", style.title)
    canvas.text((x, y), f"Invoice no. {int(rng.integers(1000, 99999))}", style.bold)
    canvas.text((x, y + style.line_height), f"Date: {content.date_text(rng)}", style.body)
    y += style.line_height * 4
    y, total = _item_table(canvas, rng, style, y)
    canvas.text((canvas.width - style.margin - 320, y + style.line_height), f"Total: {total:.2f}",
                style.bold)
    canvas.text((x, canvas.height - style.margin - style.line_height),
                f"Payment due within {int(rng.integers(7, 60))} days.", style.body)
    return canvas


def _item_table(canvas: PageCanvas, rng: np.random.Generator, style: Style,
                y: float) -> tuple[float, float]:
    """A ruled table of items; returns the y below it and the total amount."""
    left, right = style.margin, canvas.width - style.margin
    columns = [left, left + (right - left) * 0.5, left + (right - left) * 0.65,
               left + (right - left) * 0.82, right]
    row = style.line_height * 1.4
    rows = int(rng.integers(3, 12))
    canvas.rectangle((left, y, right, y + row * (rows + 1)), width=2, ink=50)
    for column in columns[1:-1]:
        canvas.line([(column, y), (column, y + row * (rows + 1))], ink=80)
    total = 0.0
    for index, header in enumerate(("Description", "Qty", "Unit", "Amount")):
        canvas.text((columns[index] + 8, y + 6), header, style.bold)
    for index in range(1, rows + 1):
        top = y + row * index
        canvas.line([(left, top), (right, top)], ink=110)
        quantity, price = int(rng.integers(1, 10)), content.money(rng)
        total += quantity * price
        cells = (content.pick(rng, content.ITEMS), str(quantity), f"{price:.2f}",
                 f"{quantity * price:.2f}")
        for column, cell in zip(columns, cells, strict=False):
            canvas.text((column + 8, top + 6), cell, style.body)
    return y + row * (rows + 1), total


def letter(rng: np.random.Generator) -> PageCanvas:
    canvas, style = _page(rng), _style(rng)
    x, y = style.margin, style.margin
    sender = content.pick(rng, content.COMPANIES)
    canvas.text((x, y), sender, style.bold)
    canvas.line([(x, y + style.line_height * 1.3), (canvas.width - x, y + style.line_height * 1.3)],
                width=2, ink=70)
    y += style.line_height * 3
    for line in (content.person_name(rng), content.street_address(rng), content.city_line(rng)):
        canvas.text((x, y), line, style.body)
        y += style.line_height
    canvas.text((canvas.width - style.margin - 220, y), content.date_text(rng), style.body)
    y += style.line_height * 2
    canvas.text((x, y), f"Dear {content.person_name(rng)},", style.body)
    y += style.line_height * 1.8
    for _ in range(int(rng.integers(2, 5))):
        y = _paragraph(canvas, rng, style, y, int(rng.integers(3, 7)))
    canvas.text((x, y), "Sincerely,", style.body)
    y = _signature_block(canvas, rng, style, x, y + style.line_height * 0.5,
                         signed=rng.random() < 0.7)
    canvas.text((x, y - style.line_height * 0.8), content.person_name(rng), style.body)
    return canvas


def receipt(rng: np.random.Generator) -> PageCanvas:
    canvas = PageCanvas(int(rng.integers(520, 680)), int(rng.integers(1250, 1700)),
                        paper_tone=int(rng.integers(230, 256)))
    font = load_font(_choose(rng, MONO_FONTS), int(rng.integers(19, 25)))
    line_height = int(font.size * 1.5)
    x, y = 40, 60
    store = content.pick(rng, content.COMPANIES).upper()
    canvas.text(((canvas.width - canvas.text_width(store, font)) / 2, y), store, font)
    y += line_height * 2
    hour, minute = int(rng.integers(8, 21)), int(rng.integers(0, 60))
    canvas.text((x, y), f"{content.date_text(rng)}  {hour}:{minute:02d}", font)
    y += line_height * 2
    total = 0.0
    width = (canvas.width - 2 * x) // canvas.text_width("0", font)
    for _ in range(int(rng.integers(4, 14))):
        item, price = content.pick(rng, content.ITEMS)[:14], content.money(rng, 0.5, 60)
        total += price
        canvas.text((x, y), f"{item:<{int(width) - 8}}{price:>8.2f}", font)
        y += line_height
    canvas.text((x, y), "-" * int(width), font)
    canvas.text((x, y + line_height), f"{'TOTAL':<{int(width) - 9}}{total:>9.2f}", font)
    canvas.text((x, y + line_height * 3), "THANK YOU", font)
    return canvas


def other(rng: np.random.Generator) -> PageCanvas:
    """A report page: title, headings, paragraphs and a table or a bar chart."""
    canvas, style = _page(rng), _style(rng)
    x, y = style.margin, style.margin
    canvas.text((x, y), content.pick(rng, content.REPORT_TITLES), style.title)
    y += style.line_height * 3
    for section in range(int(rng.integers(2, 4))):
        canvas.text((x, y), f"{section + 1}. {content.sentence(rng, 3).rstrip('.')}", style.bold)
        y += style.line_height * 1.5
        y = _paragraph(canvas, rng, style, y, int(rng.integers(2, 6)))
        if y > canvas.height * 0.55:
            break
    if rng.random() < 0.5:
        _bar_chart(canvas, rng, style, y)
    else:
        _item_table(canvas, rng, style, y)
    canvas.text((canvas.width / 2, canvas.height - style.margin / 2), str(int(rng.integers(1, 40))),
                style.body)
    return canvas


def _bar_chart(canvas: PageCanvas, rng: np.random.Generator, style: Style, y: float) -> None:
    left, bottom = style.margin + 40, min(canvas.height - style.margin - 60, y + 500)
    canvas.line([(left, y + 20), (left, bottom), (canvas.width - style.margin, bottom)], width=2)
    bars = int(rng.integers(4, 10))
    step = (canvas.width - style.margin - left) / bars
    for index in range(bars):
        top = bottom - rng.uniform(0.1, 0.9) * (bottom - y - 20)
        canvas.rectangle((left + index * step + 10, top, left + (index + 1) * step - 10, bottom),
                         ink=60, fill=int(rng.integers(60, 200)))


LAYOUTS: dict[str, Callable[[np.random.Generator], PageCanvas]] = {
    "application_form": application_form,
    "invoice": invoice,
    "letter": letter,
    "receipt": receipt,
    "other": other,
}
