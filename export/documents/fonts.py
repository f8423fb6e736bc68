"""The Debian fonts the factory renders with, found by path so renders are reproducible.

Fonts are looked up under ``/usr/share/fonts`` (never through fontconfig's fuzzy matching): the
same seed then draws the same glyphs on every machine with the same packages. A missing font
fails with the Debian package that provides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import ImageFont

FONT_ROOT = Path("/usr/share/fonts")


class FontMissingError(RuntimeError):
    """A font file the factory needs is not installed."""


@dataclass(frozen=True)
class FontFile:
    relative_path: str
    debian_package: str

    @property
    def path(self) -> Path:
        return FONT_ROOT / self.relative_path


PRINT_FONTS: tuple[FontFile, ...] = (
    FontFile("truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core"),
    FontFile("truetype/dejavu/DejaVuSerif.ttf", "fonts-dejavu-core"),
    FontFile("truetype/liberation/LiberationSans-Regular.ttf", "fonts-liberation"),
    FontFile("truetype/liberation/LiberationSerif-Regular.ttf", "fonts-liberation"),
    FontFile("truetype/freefont/FreeSans.ttf", "fonts-freefont-ttf"),
    FontFile("truetype/freefont/FreeSerif.ttf", "fonts-freefont-ttf"),
)
BOLD_FONTS: tuple[FontFile, ...] = (
    FontFile("truetype/dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
    FontFile("truetype/liberation/LiberationSans-Bold.ttf", "fonts-liberation"),
    FontFile("truetype/freefont/FreeSerifBold.ttf", "fonts-freefont-ttf"),
)
MONO_FONTS: tuple[FontFile, ...] = (
    FontFile("truetype/dejavu/DejaVuSansMono.ttf", "fonts-dejavu-core"),
    FontFile("truetype/liberation/LiberationMono-Regular.ttf", "fonts-liberation"),
    FontFile("truetype/freefont/FreeMono.ttf", "fonts-freefont-ttf"),
)
HANDWRITING_FONTS: tuple[FontFile, ...] = (
    FontFile("truetype/fifthhorseman/dkg.ttf", "fonts-dkg-handwriting"),
    FontFile("truetype/kristi/Kristi.ttf", "fonts-kristi"),
    FontFile("truetype/sjfonts/SteveHand.ttf", "fonts-sjfonts"),
    FontFile("truetype/sjfonts/Delphine.ttf", "fonts-sjfonts"),
    FontFile("truetype/breip/Breip.ttf", "fonts-breip"),
    FontFile("truetype/femkeklaver/femkeklaver.ttf", "fonts-femkeklaver"),
    FontFile("opentype/dancingscript/DancingScript-Regular.otf", "fonts-dancingscript"),
    FontFile("opentype/kaushanscript/KaushanScript-Regular.otf", "fonts-kaushanscript"),
)
ALL_FONTS = (*PRINT_FONTS, *BOLD_FONTS, *MONO_FONTS, *HANDWRITING_FONTS)


def require_fonts(fonts: tuple[FontFile, ...] = ALL_FONTS) -> None:
    """Fail once, listing every missing file and the ``apt-get install`` line that fixes it."""
    missing = [font for font in fonts if not font.path.is_file()]
    if missing:
        packages = sorted({font.debian_package for font in missing})
        files = ", ".join(str(font.path) for font in missing)
        raise FontMissingError(
            f"missing font file(s) {files}; install them with: "
            f"apt-get install -y {' '.join(packages)}"
        )


@cache
def load_font(font: FontFile, size: int) -> ImageFont.FreeTypeFont:
    """A PIL font at ``size`` pixels (cached: pages reuse a handful of sizes)."""
    if not font.path.is_file():
        require_fonts((font,))
    return ImageFont.truetype(str(font.path), size)
