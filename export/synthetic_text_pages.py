"""Pages with known text, rendered with Debian's fonts: ground truth for OCR tests and benchmarks.

Text mixes what business documents hold (words in several cases, numbers, dates, amounts,
punctuation) so that errors in digits and symbols count, not just in dictionary words. Pages
can look scanned (slight rotation, blur, sensor noise, JPEG artefacts): clean renders are too easy
to tell OCR engines apart. Every page is reproducible from its seed.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"),)
FONT_FILES = (
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSerif.ttf",
    "liberation/LiberationSans-Regular.ttf",
    "liberation/LiberationSerif-Regular.ttf",
    "liberation/LiberationMono-Regular.ttf",
    "freefont/FreeSans.ttf",
)
WORDS = (
    "invoice", "payment", "account", "balance", "customer", "order", "delivery", "address",
    "total", "amount", "due", "date", "contract", "insurance", "policy", "claim", "number",
    "reference", "period", "service", "product", "quantity", "price", "discount", "tax", "net",
    "gross", "bank", "transfer", "please", "pay", "within", "days", "of", "receipt", "thank",
    "you", "for", "your", "business", "the", "and", "with", "from", "to", "by", "on", "in",
    "at", "as", "per", "our", "your", "this", "that", "we", "will", "be", "are", "is",
    "signed", "agreement", "terms", "conditions", "page", "report", "summary", "employee",
    "department", "manager", "office", "shipping", "warehouse", "received", "approved",
    "pending", "cancelled", "renewal", "notice", "annual", "monthly",
)


class NoFontsError(RuntimeError):
    """None of the expected Debian fonts is installed."""


@dataclass(frozen=True)
class TextPage:
    image_bytes: bytes  # PNG, or JPEG when scanned
    lines: tuple[str, ...]  # the rendered lines, top to bottom

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def available_fonts() -> list[Path]:
    fonts = [base / name for base in FONT_DIRS for name in FONT_FILES if (base / name).exists()]
    if not fonts:
        raise NoFontsError(
            "no fonts found: apt-get install -y fonts-dejavu-core fonts-liberation "
            "fonts-freefont-ttf"
        )
    return fonts


def _token(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.08:
        return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2019, 2027)}"
    if kind < 0.16:
        return f"${rng.randint(1, 9999):,}.{rng.randint(0, 99):02d}"
    if kind < 0.22:
        return f"No.{rng.randint(100, 99999)}"
    word = rng.choice(WORDS)
    if rng.random() < 0.2:
        word = word.capitalize()
    elif rng.random() < 0.05:
        word = word.upper()
    return word + (rng.choice(",.:;") if rng.random() < 0.1 else "")


def _line_text(rng: random.Random, font: ImageFont.FreeTypeFont, max_width: int) -> str:
    words = [_token(rng)]
    while True:
        candidate = f"{' '.join(words)} {_token(rng)}"
        if font.getlength(candidate) > max_width or rng.random() < 0.04:
            return " ".join(words)
        words = candidate.split(" ")


def render_text_page(
    seed: int,
    size: tuple[int, int] = (1000, 1400),
    line_count: int = 24,
    font_px: Sequence[int] = (16, 30),
    scanned: bool = False,
) -> TextPage:
    """A white ``size`` (width, height) page with ``line_count`` lines of black text.

    ``scanned`` pages are degraded like an office scan (see :func:`scan`) and JPEG-encoded.
    """
    rng = random.Random(seed)
    width, height = size
    font = ImageFont.truetype(str(rng.choice(available_fonts())), rng.randint(*font_px))
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    margin = width // 12
    line_step = int(font.size * 1.8)
    lines = []
    for row in range(line_count):
        top = margin + row * line_step
        if top + line_step > height - margin:
            break
        text = _line_text(rng, font, width - 2 * margin)
        draw.text((margin, top), text, font=font, fill=0)
        lines.append(text)
    buffer = io.BytesIO()
    if scanned:
        scan(page, rng).save(buffer, format="JPEG", quality=rng.randint(40, 75))
    else:
        page.save(buffer, format="PNG")
    return TextPage(buffer.getvalue(), tuple(lines))


def scan(page: Image.Image, rng: random.Random) -> Image.Image:
    """Rotate by up to 1.5 degrees, blur and add grey sensor noise."""
    page = page.rotate(rng.uniform(-1.5, 1.5), resample=Image.BICUBIC, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2)))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 20, (page.height, page.width))
    return Image.fromarray(np.clip(np.asarray(page, np.float32) + noise, 0, 255).astype(np.uint8))
