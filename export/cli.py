"""``docserve export ...``: rebuild the model repository's trained and copied artefacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docserve.api.settings import PROJECT_ROOT

export_app = typer.Typer(
    help="Train/export models into the model repository (needs the [export] extra).",
    invoke_without_command=True,
    no_args_is_help=False,
)

RepositoryOption = Annotated[
    Path, typer.Option("--repository", help="Model repository to write into")
]
DEFAULT_REPOSITORY = PROJECT_ROOT / "model_repository"


@export_app.callback()
def export_all(
    ctx: typer.Context,
    repository: RepositoryOption = DEFAULT_REPOSITORY,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Only build artefacts that are not there yet")
    ] = False,
) -> None:
    """Without a sub-command: rebuild every artefact of the repository from scratch."""
    if ctx.invoked_subcommand is not None:
        return
    for name, (artefact, build) in ARTEFACTS.items():
        if if_missing and (repository / artefact).exists():
            typer.echo(f"{name}: {artefact} present, kept")
            continue
        build(repository)


@export_app.command("car")
def export_car(repository: RepositoryOption = DEFAULT_REPOSITORY) -> None:
    """Train the car evaluation MLP and write car_evaluation_model/ (ONNX + model card)."""
    from docserve.export.car_evaluation import build

    report = build(repository)
    typer.echo(
        f"car_evaluation_model: held-out accuracy {report.accuracy:.4f}, macro-F1 "
        f"{report.macro_f1:.4f}, ONNX max abs diff {report.export.max_abs_diff:.2e}, "
        f"{report.seconds:.1f}s"
    )


@export_app.command("ocr")
def export_ocr(repository: RepositoryOption = DEFAULT_REPOSITORY) -> None:
    """Copy PP-OCR det/rec ONNX + character set out of the pinned rapidocr wheel (+ model cards)."""
    from docserve.export.ocr import build

    report = build(repository)
    typer.echo(
        f"text_detection: {report.detection}; text_recognition: {report.recognition} "
        f"({report.characters} characters in {report.character_set}); both checked against "
        "the originals"
    )


# Every artefact `docserve export` (re)builds: name -> (path inside the repository, builder).
ARTEFACTS = {
    "car": ("car_evaluation_model/1/model.onnx", lambda repository: export_car(repository)),
    # The character set is written last: when it is there, both models are too.
    "ocr": ("ocr_lines/1/character_set.txt", lambda repository: export_ocr(repository)),
}
