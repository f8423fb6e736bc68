"""``docserve export evaluate --fields``: both protocols' reader and the committed model, end to end
of the command; FUNSD-format forms written from generated ones."""

from __future__ import annotations

from pathlib import Path

from key_value_forms import generated_form, write_funsd_folder
from typer.testing import CliRunner

from docserve.cli.main import app
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export import cli as export_cli
from docserve.export.key_values.forms import read_forms


def test_funsd_format_round_trip(tmp_path: Path):
    (form,) = read_forms(write_funsd_folder(tmp_path / "forms", range(3, 4)))
    expected = generated_form(3)
    assert [w.text for w in form.words] == [w.text for w in expected.words]
    assert (form.entities, form.entity_labels, form.links) == (expected.entities, expected.entity_labels,
                                                                expected.links)
    assert (form.width, form.height) == (600, 400)


def test_evaluate_fields_reports_the_ground_truth_protocol(tmp_path: Path):
    folder = write_funsd_folder(tmp_path / "forms", range(2))
    result = CliRunner().invoke(app, ["export", "evaluate", "--fields", str(folder), "--no-end-to-end"])
    assert result.exit_code == 0, result.output
    assert "ground-truth words, 2 forms: labelling F1" in result.output
    assert "links   P" in result.output


def test_key_values_export_without_forms_says_where_to_point_it(tmp_path: Path):
    result = CliRunner().invoke(app, ["export", "key-values", "--repository", str(tmp_path),
                                      "--forms", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no FUNSD-format forms" in result.output and "--forms DIR" in result.output


def test_if_missing_keeps_the_committed_model_untrained(tmp_path: Path, monkeypatch):
    artefact = export_cli.ARTEFACTS["key_values"]
    assert all((PROJECT_ROOT / "model_repository" / path).is_file() for path in artefact.paths)
    for path in artefact.paths:
        (tmp_path / path).parent.mkdir(parents=True)
        (tmp_path / path).write_bytes(b"committed")
    monkeypatch.setattr(export_cli, "ARTEFACTS", {"key_values": artefact})
    result = CliRunner().invoke(app, ["export", "--repository", str(tmp_path), "--if-missing"])
    assert result.exit_code == 0, result.output
    assert "key_values: key_values/1/model.onnx present, kept" in result.output
