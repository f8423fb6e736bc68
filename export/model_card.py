"""Model cards: every model in ``model_repository/`` documents itself in a README.md."""

from __future__ import annotations

from pathlib import Path


def write_model_card(model_dir: Path, text: str) -> Path:
    """Write ``<model_dir>/README.md`` (creating the folder) and return its path."""
    model_dir.mkdir(parents=True, exist_ok=True)
    card = model_dir / "README.md"
    card.write_text(text.rstrip() + "\n", encoding="utf-8")
    return card
