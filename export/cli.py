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
    for name, (artefacts, build) in ARTEFACTS.items():
        if if_missing and all((repository / artefact).exists() for artefact in artefacts):
            typer.echo(f"{name}: {', '.join(artefacts)} present, kept")
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


@export_app.command("data")
def export_data(
    out: Annotated[Path, typer.Option("--out", help="Folder for <seed>.png + <seed>.json")],
    count: Annotated[int, typer.Option("--count", min=1, help="Number of pages")] = 100,
    first_seed: Annotated[int, typer.Option("--first-seed", help="Seed of the first page")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Rendering processes")] = 2,
) -> None:
    """Render synthetic scanned pages with their ground truth (see docserve.export.documents)."""
    from docserve.export.documents.dataset import write_dataset
    from docserve.export.documents.fonts import require_fonts

    require_fonts()
    paths = write_dataset(out, count, first_seed, workers)
    typer.echo(f"wrote {len(paths)} pages (seeds {first_seed}..{first_seed + count - 1}) to {out}")


@export_app.command("models")
def export_models(
    repository: RepositoryOption = DEFAULT_REPOSITORY,
    training_pages: Annotated[int, typer.Option(min=50, help="Synthetic training pages")] = 1600,
    held_out_pages: Annotated[int, typer.Option(min=10, help="Held-out evaluation pages")] = 500,
    signature_training_pages: Annotated[
        int, typer.Option(min=50, help="Synthetic training pages of the signature model")
    ] = 3200,
) -> None:
    """Train deskew, checkbox and signature; export, evaluate (with doc_classifier), write cards."""
    from docserve.export.vision.build import build_all

    report = build_all(repository, training_pages, held_out_pages,
                       signature_training_pages=signature_training_pages)
    for model in report.models:
        typer.echo(f"{model.contract.model}: trained in {model.seconds:.0f}s, ONNX max abs diff "
                   f"{model.export.max_abs_diff:.2e}, {model.export.size_bytes / 1024:.0f} KiB")
    typer.echo(f"rendering {report.data_seconds:.0f}s, "
               f"rendering + training {report.training_seconds:.0f}s")
    typer.echo(report.metrics.table())


DataOption = Annotated[
    Path, typer.Option("--data", exists=True, file_okay=False,
                       help="Labelled pages: one sub-folder per document type (images, PDFs)")
]
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data" / "real_documents"


@export_app.command("classifier")
def export_classifier(
    repository: RepositoryOption = DEFAULT_REPOSITORY,
    data: DataOption = DEFAULT_DATA,
    synthetic_pages: Annotated[int, typer.Option(
        min=0, help="Synthetic pages added to training (only for the factory's five types)")] = 400,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs of the head")] = 20,
) -> None:
    """Train the next doc_classifier version on labelled pages; write it, its labels and card."""
    from docserve.export.vision.classifier_build import build_classifier

    report = build_classifier(repository, data, synthetic_pages, epochs)
    typer.echo(f"doc_classifier version {report.version} ({', '.join(report.labels)}): "
               f"trained in {report.seconds:.0f}s, ONNX max abs diff "
               f"{report.export.max_abs_diff:.2e}, {report.ms_per_page:.1f} ms/page")
    typer.echo(f"real validation pages:\n{report.validation.table()}")


@export_app.command("evaluate")
def evaluate_models(
    repository: RepositoryOption = DEFAULT_REPOSITORY,
    count: Annotated[int, typer.Option("--count", min=1, help="Held-out synthetic pages")] = 500,
    baseline: Annotated[bool, typer.Option(help="Compare deskew with the `deskew` package")] = True,
    real: Annotated[Path | None, typer.Option(
        "--real", exists=True, file_okay=False,
        help="Also measure on real labelled pages (one sub-folder per document type)")] = None,
    validation_only: Annotated[bool, typer.Option(
        help="With --real: only the pages `export classifier` holds out (by source)")] = False,
    skew_pages: Annotated[int, typer.Option(
        min=1, help="With --real: real pages turned by known angles for the skew error")] = 30,
) -> None:
    """Held-out metrics of the committed vision models (shared processing + onnxruntime)."""
    from docserve.export.vision.evaluation import evaluate
    from docserve.export.vision.real_report import real_report
    from docserve.export.vision.reference import VisionModels

    typer.echo(evaluate(VisionModels(repository), count, with_baseline=baseline).table())
    if real is not None:
        typer.echo(real_report(repository, real, validation_only, skew_pages, baseline))


VISION_MODELS = ("deskew", "checkbox", "signature")

# Every artefact `docserve export` (re)builds: name -> (paths inside the repository, builder).
ARTEFACTS = {
    "car": (("car_evaluation_model/1/model.onnx",), lambda repository: export_car(repository)),
    "models": (
        tuple(f"{model}/1/model.onnx" for model in VISION_MODELS),
        lambda repository: export_models(repository),
    ),
    "classifier": (("doc_classifier/2/model.onnx",),
                   lambda repository: export_classifier(repository)),
    # The character set is written last: when it is there, both models are too.
    "ocr": (("ocr_lines/1/character_set.txt",), lambda repository: export_ocr(repository)),
}
