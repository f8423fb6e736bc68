"""Every config.pbtxt against the Python constants it restates, and every ensemble's wiring.

Triton reads the configs, which cannot import Python, so a value both need is written twice:
once in Python (``docserve.contract`` for what the gateway and the clients rely on,
``docserve.processing`` for the geometry of the steps) and once in a config. Each check below
ties the config side to its Python source, or checks what Triton itself would only find when it
loads a model: ensemble steps naming tensors their model does not have, or with another type or
shape. A check returns the problems it finds; the negative cases at the end change one value
in a parsed copy of the configs and see the check name it, so a renamed document type or a
changed limit fails here, not at a model load.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import onnx
import pytest
from google.protobuf import json_format, text_format
from model_configs import (
    FIXTURE_REPOSITORY,
    config_paths,
    full_shape,
    load_configs,
    parse_config,
    string_parameter,
    tensor,
)
from tritonclient.grpc.model_config_pb2 import DataType, ModelConfig
from tritonclient.utils import np_to_triton_dtype

from docserve.api.car_evaluation import LABEL_TENSOR, PROBABILITIES_TENSOR
from docserve.api.settings import Settings
from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.contract.golden_sets import GOLDEN_FOLDER, SPEC_FILE, GoldenMetric
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.contract.page_result import (
    Checkbox,
    Checkboxes,
    DocumentType,
    ModelVersion,
    Orientation,
    PageResult,
    PageSize,
    Signature,
    Skew,
    Text,
    TextLine,
    Word,
)
from docserve.contract.tensor_names import PAGE_INPUT, RESULT_OUTPUT
from docserve.export import ocr as ocr_export
from docserve.export import orientation as orientation_export
from docserve.export.reference_pipelines import (
    FORM_INTAKE_EXPECTED_TYPES,
    MODELS,
    PIPELINES,
    TextStep,
)
from docserve.export.vision.reference import CONTRACTS
from docserve.inference.model_graph import called_models
from docserve.inference.pipelines import DESCRIPTION_PARAMETER, DESKEW_STEP
from docserve.processing import checkboxes, page_orientation
from docserve.processing.car_features import ATTRIBUTES, CLASS_LABELS, FEATURE_COUNT
from docserve.processing.document_gate import (
    EXPECTED_TYPES_PARAMETER,
    MIN_EXPECTED_PROBABILITY,
    MIN_EXPECTED_PROBABILITY_PARAMETER,
)
from docserve.processing.document_labels import read_labels
from docserve.processing.form_fields import KEY_VALUES_MODEL
from docserve.processing.ocr_pipeline import OcrSettings
from docserve.processing.page_assembly import typed_outputs
from docserve.processing.page_image import DEFAULT_MAX_PAGE_PIXELS
from docserve.processing.page_thumbnail import THUMBNAIL_SIZE
from docserve.processing.signature_heatmap import HEATMAP_SIZE
from docserve.processing.text_recognition import (
    LINE_HEIGHT,
    RECOGNITION_INPUT,
    RECOGNITION_MODEL,
    RECOGNITION_OUTPUTS,
)

Configs = dict[str, ModelConfig]
Check = Callable[[Configs], list[str]]

CONFIGS = load_configs()
ENSEMBLES = sorted(name for name, config in CONFIGS.items() if config.platform == "ensemble")
PIPELINE_FOLDER = PROJECT_ROOT / "ensembles"
CAR_PIPELINE = "car_evaluation"
FIXTURE_PIPELINE = "page_probe_pipeline"
CLASSIFIER_DIR = PROJECT_ROOT / "model_repository" / "doc_classifier"
# Models no ensemble step names: a python step calls them through BLS (callee -> caller).
BLS_CALLEES = {RECOGNITION_MODEL: "ocr_lines", KEY_VALUES_MODEL: "field_pairing",
               "step_sleeper": "step_probe"}
# Test-only models the tests call themselves (test_triton_step.py: the python step base).
CALLED_BY_TESTS = {"step_probe"}

# (model, tensor) -> dims as its config writes them, from the Python constants of its processing.
STEP_DIMS: dict[tuple[str, str], list[int]] = {
    ("page_thumbnail", "page_thumbnail"): [1, 1, THUMBNAIL_SIZE, THUMBNAIL_SIZE],
    ("deskew", "page_thumbnail"): [1, THUMBNAIL_SIZE, THUMBNAIL_SIZE],
    ("doc_classifier", "page_thumbnail"): [1, THUMBNAIL_SIZE, THUMBNAIL_SIZE],
    ("signature", "page_thumbnail"): [1, THUMBNAIL_SIZE, THUMBNAIL_SIZE],
    ("signature", "signature_heatmap"): [1, HEATMAP_SIZE, HEATMAP_SIZE],
    ("signature_postprocess", "signature_heatmap"): [1, 1, HEATMAP_SIZE, HEATMAP_SIZE],
    ("checkbox_candidates", "checkbox_crops"): [-1, 1, checkboxes.CROP_SIZE, checkboxes.CROP_SIZE],
    ("checkbox", "checkbox_crops"): [-1, 1, checkboxes.CROP_SIZE, checkboxes.CROP_SIZE],
    ("checkbox", "checkbox_state_probabilities"): [-1, len(checkboxes.STATE_LABELS)],
    ("checkbox_select", "checkbox_state_probabilities"): [-1, len(checkboxes.STATE_LABELS)],
    ("page_orientation_preprocess", "orientation_input"):
        [-1, 3, page_orientation.CROP_SIZE, page_orientation.CROP_SIZE],
    ("page_orientation", "orientation_input"): [3, page_orientation.CROP_SIZE, page_orientation.CROP_SIZE],
    ("page_orientation", "orientation_probabilities"): [len(page_orientation.CLOCKWISE_LABELS)],
    ("page_orientation_apply", "orientation_probabilities"): [-1, len(page_orientation.CLOCKWISE_LABELS)],
    (RECOGNITION_MODEL, RECOGNITION_INPUT): [3, LINE_HEIGHT, -1],
    ("car_evaluation_preprocess", "car_features"): [FEATURE_COUNT],
    ("car_evaluation_model", "car_features"): [FEATURE_COUNT],
    ("car_evaluation_model", "class_probabilities"): [len(CLASS_LABELS)],
    ("car_evaluation_postprocess", "class_probabilities"): [len(CLASS_LABELS)],
    (CAR_PIPELINE, "class_probabilities"): [len(CLASS_LABELS)],
    # The number of document types is the classifier version's (its labels.txt): left open.
    ("doc_classifier", "document_type_probabilities"): [-1],
    ("ocr_gate", "document_type_probabilities"): [1, -1],
    ("page_result", "document_type_probabilities"): [1, -1],
}
# (model, parameter) -> the Python value it must equal.
STEP_PARAMETERS: dict[tuple[str, str], str] = {
    ("page_decode", "max_pixels"): str(DEFAULT_MAX_PAGE_PIXELS),
    ("text_detection_preprocess", "max_page_pixels"): str(DEFAULT_MAX_PAGE_PIXELS),
    ("ocr_lines", "recognition_batch_size"): str(OcrSettings().recognition_batch_size),
    ("ocr_lines", "min_line_confidence"): str(OcrSettings().min_line_confidence),
    ("ocr_lines", "recognition_model"): RECOGNITION_MODEL,
    ("field_pairing", "key_values_model"): KEY_VALUES_MODEL,
    ("page_orientation_apply", "orientation_model"): page_orientation.ORIENTATION_MODEL,
    ("ocr_gate", "classifier_model"): MODELS["document_type"][0],
    ("ocr_gate", MIN_EXPECTED_PROBABILITY_PARAMETER): str(MIN_EXPECTED_PROBABILITY),
    (CAR_PIPELINE, "class_labels"): ",".join(CLASS_LABELS),
    ("form_intake", EXPECTED_TYPES_PARAMETER): ",".join(FORM_INTAKE_EXPECTED_TYPES),
}


def _shapes_agree(first: list[int], second: list[int]) -> bool:
    """Equal rank, and each axis equal or open (-1) on one side."""
    return len(first) == len(second) and all(
        a == b or -1 in (a, b) for a, b in zip(first, second, strict=True))


def _described(config: ModelConfig, name: str) -> str:
    found = tensor(config, name)
    return f"{DataType.Name(found.data_type)} {full_shape(config, found)}"


# --- ensemble wiring -------------------------------------------------------------------------

Producer = tuple[ModelConfig, object]  # the config writing a tensor, and its output (or input)


def ensemble_problems(configs: Configs, name: str) -> list[str]:
    """What Triton would refuse when loading ensemble ``name``: steps naming models or tensors that
    do not exist, required inputs left unmapped, tensors of another type or shape than their
    writer's, and ensemble inputs or outputs no step reads or writes."""
    ensemble = configs[name]
    steps = [(step, configs.get(step.model_name)) for step in ensemble.ensemble_scheduling.step]
    problems = [f"{name}: step {step.model_name!r} has no model in the repositories"
                for step, model in steps if model is None]
    steps = [(step, model) for step, model in steps if model is not None]
    writers, written = _writers(name, ensemble, steps)
    read, reading = _reads(name, steps, writers)
    problems += written + reading
    problems += [f"{name}: ensemble input {found.name!r} is read by no step"
                 for found in ensemble.input if found.name not in read]
    for found in ensemble.output:
        if found.name not in writers:
            problems.append(f"{name}: ensemble output {found.name!r} is written by no step")
        else:
            problems += _mismatch(f"{name}: output {found.name!r}", writers[found.name], (ensemble, found))
    return problems


def _writers(name: str, ensemble: ModelConfig, steps: list) -> tuple[dict[str, Producer], list[str]]:
    """Each ensemble tensor and what writes it (the ensemble's inputs, the steps' outputs)."""
    writers: dict[str, Producer] = {found.name: (ensemble, found) for found in ensemble.input}
    problems = []
    for step, model in steps:
        for key, value in step.output_map.items():
            found = next((output for output in model.output if output.name == key), None)
            if found is None:
                problems.append(f"{name}: {step.model_name} has no output {key!r}")
            elif value in writers:
                problems.append(f"{name}: tensor {value!r} is written twice ({step.model_name})")
            else:
                writers[value] = (model, found)
    return writers, problems


def _reads(name: str, steps: list, writers: dict[str, Producer]) -> tuple[set[str], list[str]]:
    """The ensemble tensors the steps read, and what is wrong with their input maps."""
    read, problems = set(), []
    for step, model in steps:
        required = {found.name for found in model.input if not found.optional}
        problems += [f"{name}: required input {missing!r} of {step.model_name} is not mapped"
                     for missing in sorted(required - set(step.input_map))]
        for key, value in step.input_map.items():
            read.add(value)
            found = next((item for item in model.input if item.name == key), None)
            if found is None:
                problems.append(f"{name}: {step.model_name} has no input {key!r}")
            elif value not in writers:
                problems.append(f"{name}: {step.model_name}.{key} reads {value!r}, which no step writes")
            else:
                problems += _mismatch(f"{name}: {value!r} -> {step.model_name}.{key}",
                                      writers[value], (model, found))
    return read, problems


def _mismatch(where: str, produced: Producer, read: Producer) -> list[str]:
    (producer, output), (reader, wanted) = produced, read
    if output.data_type != wanted.data_type or not _shapes_agree(
            full_shape(producer, output), full_shape(reader, wanted)):
        return [f"{where}: written as {_described(producer, output.name)}, "
                f"read as {_described(reader, wanted.name)}"]
    return []


def wiring_problems(configs: Configs) -> list[str]:
    return [problem for name in sorted(configs) if configs[name].platform == "ensemble"
            for problem in ensemble_problems(configs, name)]


# --- the constants the configs restate -------------------------------------------------------

def step_dims_problems(configs: Configs) -> list[str]:
    problems = []
    for (model, name), dims in STEP_DIMS.items():
        found = tensor(configs[model], name)
        if found is None or list(found.dims) != dims:
            problems.append(f"{model}.{name}: dims {None if found is None else list(found.dims)}, "
                            f"the processing constants say {dims}")
    return problems


def orientation_batch_problems(configs: Configs) -> list[str]:
    """A page's orientation crops (places x quarter turns) are one request: they must fit."""
    crops = page_orientation.CROPS_ALONG * page_orientation.CROPS_ACROSS * page_orientation.QUARTER_TURNS
    batch = configs[orientation_export.MODEL].max_batch_size
    return [] if batch >= crops else [
        f"{orientation_export.MODEL}: max_batch_size {batch} < the {crops} crops of one page"]


def step_parameter_problems(configs: Configs) -> list[str]:
    return [f"{model}: parameter {key!r} is {string_parameter(configs[model], key)!r}, Python says {value!r}"
            for (model, key), value in STEP_PARAMETERS.items()
            if string_parameter(configs[model], key) != value]


def car_tensor_problems(configs: Configs) -> list[str]:
    """The attribute tensors are named (and ordered) after ``car_features.ATTRIBUTES``; the gateway
    reads the ensemble's label and probability outputs by name."""
    problems = []
    for model in (CAR_PIPELINE, "car_evaluation_preprocess"):
        names = [found.name for found in configs[model].input]
        if names != list(ATTRIBUTES):
            problems.append(f"{model}: inputs {names}, car_features.ATTRIBUTES has {list(ATTRIBUTES)}")
    outputs = {found.name for found in configs[CAR_PIPELINE].output}
    problems += [f"{CAR_PIPELINE}: no output {name!r} (docserve.api.car_evaluation reads it)"
                 for name in (LABEL_TENSOR, PROBABILITIES_TENSOR) if name not in outputs]
    return problems


def part_model_problems(configs: Configs) -> list[str]:
    """page_result names the models behind each result part as the in-process reference does;
    each part is one of the page result's and each model is served."""
    raw = string_parameter(configs["page_result"], "part_models")
    part_models = json.loads(raw) if raw else {}
    problems = [] if part_models == MODELS else [
        f"page_result: part_models {part_models}, reference_pipelines.MODELS {MODELS}"]
    problems += [f"page_result: part {part!r} is not a part of the page result"
                 for part in part_models if part not in PageResult.model_fields]
    problems += [f"page_result: part {part!r} names {model!r}, which has no config"
                 for part, models in part_models.items() for model in models if model not in configs]
    return problems


def form_intake_type_problems(configs: Configs) -> list[str]:
    """form_intake expects types every committed classifier version knows."""
    declared = string_parameter(configs["form_intake"], EXPECTED_TYPES_PARAMETER) or ""
    expected = [name.strip() for name in declared.split(",") if name.strip()]
    return [f"form_intake expects {name!r}, which doc_classifier version {version} does not know "
            f"({', '.join(labels)})"
            for version, labels in _classifier_labels() for name in expected if name not in labels]


def page_contract_problems(configs: Configs) -> list[str]:
    """Every pipeline in ensembles/ but the car's and page_ocr, and the test pipeline, is a document pipeline:
    the gateway finds it by the page contract's tensors and describes it by its parameter."""
    problems = []
    for name in _document_pipelines(configs):
        config = configs[name]
        for role, tensors, wanted in (("input", config.input, PAGE_INPUT),
                                      ("output", config.output, RESULT_OUTPUT)):
            found = next((item for item in tensors if item.name == wanted), None)
            if found is None or found.data_type != DataType.TYPE_STRING or list(found.dims) != [1]:
                problems.append(f"{name}: no {role} {wanted!r} of TYPE_STRING dims [1]")
        if not string_parameter(config, DESCRIPTION_PARAMETER):
            problems.append(f"{name}: no {DESCRIPTION_PARAMETER!r} parameter")
    return problems


def reference_mirror_problems(configs: Configs) -> list[str]:
    """The in-process reference computes the parts each ensemble's steps compute, and turns
    every page upright first, as every document pipeline does."""
    problems = []
    served = {name for name in _document_pipelines(configs) if name != FIXTURE_PIPELINE}
    if served != set(PIPELINES):
        problems.append(f"document pipelines {sorted(served)}, reference_pipelines.PIPELINES "
                        f"{sorted(PIPELINES)}")
    for name in sorted(served & set(PIPELINES)):
        steps = {step.model_name for step in configs[name].ensemble_scheduling.step}
        parts = PIPELINES[name]
        text = (TextStep.EXPECTED_TYPES if "ocr_gate" in steps
                else TextStep.ALWAYS if steps & {"page_ocr", "ocr_lines"} else TextStep.NONE)
        computed = {"skew": "deskew" in steps, "document_type": "doc_classifier" in steps,
                    "text": text, "checkboxes": "checkbox" in steps, "signature": "signature" in steps}
        problems += [f"{name}: the ensemble's {part} is {value}, the reference's "
                     f"{getattr(parts, part)}"
                     for part, value in computed.items() if getattr(parts, part) != value]
        if "ocr_gate" in steps and not string_parameter(configs[name], EXPECTED_TYPES_PARAMETER):
            problems.append(f"{name}: runs ocr_gate but declares no {EXPECTED_TYPES_PARAMETER!r}")
        if orientation_export.MODEL not in steps:  # the reference turns every page upright first
            problems.append(f"{name}: no {orientation_export.MODEL} step, the reference's has one")
    return problems


def typed_output_problems(configs: Configs) -> list[str]:
    """page_result returns the result JSON and the tensors page_assembly.typed_outputs makes."""
    config = configs["page_result"]
    made = typed_outputs(_full_page_result())
    declared, returned = {found.name for found in config.output}, {RESULT_OUTPUT, *made}
    problems = [f"page_result declares {name!r}, which it never returns"
                for name in sorted(declared - returned)]
    problems += [f"page_result returns {name!r}, which it does not declare"
                 for name in sorted(returned - declared)]
    for name, value in made.items():
        found = tensor(config, name)
        if found is None:
            continue
        dtype = "TYPE_" + np_to_triton_dtype(value.dtype).replace("BYTES", "STRING")
        if DataType.Name(found.data_type) != dtype or not _shapes_agree(
                list(found.dims), list(value.shape)):
            problems.append(f"page_result.{name}: declared {_described(config, name)}, "
                            f"made as {dtype} {list(value.shape)}")
    return problems


def python_tensor_name_problems(configs: Configs) -> list[str]:
    """Tensor and model names the Python side uses to call models directly."""
    wanted = [(contract.model, name) for contract in CONTRACTS for name in (contract.input, contract.output)]
    wanted += [(model, name) for model, names in ocr_export.TENSOR_NAMES.items() for name in names.values()]
    wanted += [(orientation_export.MODEL, name) for name in orientation_export.TENSOR_NAMES.values()]
    wanted += [(RECOGNITION_MODEL, name) for name in (RECOGNITION_INPUT, *RECOGNITION_OUTPUTS)]
    problems = [f"{model} has no tensor {name!r}" for model, name in wanted
                if model not in configs or tensor(configs[model], name) is None]
    problems += [f"no model {model!r}" for model in (DESKEW_STEP, ocr_export.DECODER_MODEL)
                 if model not in configs]
    return problems


def bls_problems(configs: Configs) -> list[str]:
    """ocr_gate passes page_ocr's outputs through as its own: same names, types and shapes."""
    gate = configs["ocr_gate"]
    callee = configs.get(string_parameter(gate, "ocr_model") or "")
    if callee is None:
        return [f"ocr_gate: ocr_model {string_parameter(gate, 'ocr_model')!r} has no config"]
    problems = []
    for output in gate.output:
        if output.name == "text_skipped_json":
            continue
        found = tensor(callee, output.name)
        if found is None or output.data_type != found.data_type or list(output.dims) != list(found.dims):
            given = "nothing" if found is None else _described(callee, found.name)
            problems.append(f"ocr_gate.{output.name}: {_described(gate, output.name)}, "
                            f"{callee.name} gives {given}")
    return problems


def classifier_label_problems(document_types: tuple[str, ...]) -> list[str]:
    problems = []
    for version, labels in _classifier_labels():
        if labels != document_types:
            problems.append(f"doc_classifier version {version} answers with {labels}, not {document_types}")
        graph = onnx.load(str(CLASSIFIER_DIR / version / "model.onnx"), load_external_data=False).graph
        outputs = graph.output[0].type.tensor_type.shape.dim[-1].dim_value
        if outputs != len(labels):
            problems.append(f"doc_classifier version {version}: {outputs} outputs for {len(labels)} labels")
    return problems


def golden_set_problems(configs: Configs) -> list[str]:
    """Each golden set names an input and an output of its model and a metric the gate knows."""
    problems = []
    for spec_path in sorted((PROJECT_ROOT / "model_repository").glob(f"*/{GOLDEN_FOLDER}/{SPEC_FILE}")):
        model = spec_path.parent.parent.name
        spec = json.loads(spec_path.read_text())
        for role, found in (("input", configs[model].input), ("output", configs[model].output)):
            if spec[role] not in {item.name for item in found}:
                problems.append(f"{model} golden set: {model} has no {role} {spec[role]!r}")
        if spec["metric"] not in {metric.value for metric in GoldenMetric}:
            problems.append(f"{model} golden set: unknown metric {spec['metric']!r}")
    return problems


def gateway_model_problems(configs: Configs) -> list[str]:
    """The car pipeline and model the gateway's settings name by default, one a step of the other."""
    pipeline = Settings.model_fields["car_pipeline"].default
    model = Settings.model_fields["car_model"].default
    if pipeline not in configs:
        return [f"settings.car_pipeline {pipeline!r} has no config"]
    steps = {step.model_name for step in configs[pipeline].ensemble_scheduling.step}
    return [] if model in steps else [f"settings.car_model {model!r} is no step of {pipeline!r}"]


# Every check but the wiring, which runs per ensemble below.
CHECKS: list[Check] = [
    step_dims_problems, orientation_batch_problems, step_parameter_problems, car_tensor_problems,
    part_model_problems, form_intake_type_problems, page_contract_problems,
    reference_mirror_problems, typed_output_problems, python_tensor_name_problems, bls_problems,
    golden_set_problems, gateway_model_problems,
]


def _document_pipelines(configs: Configs) -> list[str]:
    """Every ensemble in ensembles/ but the car's and the building blocks other ensembles run as
    a step (page_ocr), plus the test pipeline."""
    served = [path.name for path in PIPELINE_FOLDER.iterdir() if (path / "config.pbtxt").is_file()]
    steps = {step.model_name for config in configs.values() for step in config.ensemble_scheduling.step}
    return sorted(name for name in (*served, FIXTURE_PIPELINE)
                  if name != CAR_PIPELINE and name not in steps and name in configs)


def _classifier_labels() -> Iterator[tuple[str, tuple[str, ...]]]:
    for version in sorted((path for path in CLASSIFIER_DIR.iterdir() if path.name.isdigit()),
                          key=lambda path: int(path.name)):
        yield version.name, read_labels(version)


def _full_page_result() -> PageResult:
    """A page result with every part, so typed_outputs makes every tensor it can."""
    models = [ModelVersion(name="model", version="1")]
    square = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    return PageResult(
        page=PageSize(width=10, height=10),
        orientation=Orientation(degrees=0, score=1.0, models=models),
        skew=Skew(degrees=0.0, models=models),
        document_type=DocumentType(label="letter", score=1.0, scores={"letter": 1.0}, models=models),
        text=Text(lines=[TextLine(text="a", confidence=1.0, polygon=square,
                                  words=[Word(text="a", confidence=1.0, polygon=square)])], models=models),
        checkboxes=Checkboxes(items=[Checkbox(box=(0, 0, 1, 1), polygon=square, checked=True, score=1.0)],
                              models=models),
        signature=Signature(present=True, score=1.0, box=(0, 0, 1, 1), models=models),
    )


def _copy(configs: Configs) -> Configs:
    copies = {}
    for name, config in configs.items():
        copies[name] = ModelConfig()
        copies[name].CopyFrom(config)
    return copies


# --- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", config_paths(), ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_every_config_parses_strictly_and_is_named_after_its_folder(path: Path):
    assert parse_config(path).name == path.parent.name


def test_a_misspelt_field_is_a_parse_error(tmp_path: Path):
    path = tmp_path / "page_decode" / "config.pbtxt"
    path.parent.mkdir()
    path.write_text((PROJECT_ROOT / "model_repository/page_decode/config.pbtxt").read_text()
                    .replace("dims:", "dimz:", 1))
    with pytest.raises(text_format.ParseError, match="dimz"):
        parse_config(path)


def test_every_bls_call_is_declared_in_the_callers_config():
    """The step repair and ``docserve models list`` see a BLS call only in the caller's config
    (a ``*_model`` parameter): every callee is declared there."""
    for callee, caller in BLS_CALLEES.items():
        if caller not in CALLED_BY_TESTS:
            config = json_format.MessageToDict(CONFIGS[caller], preserving_proto_field_name=True)
            assert callee in called_models(config), f"{caller} calls {callee}: no *_model parameter says so"
    assert "page_orientation" in called_models(
        json_format.MessageToDict(CONFIGS["page_orientation_apply"], preserving_proto_field_name=True))


def test_every_config_is_checked_as_an_ensemble_or_a_model_one_calls():
    """The wiring checks reach every config: each model is an ensemble, a step of one, or
    called by a step (BLS)."""
    steps = {step.model_name for name in ENSEMBLES for step in CONFIGS[name].ensemble_scheduling.step}
    assert set(CONFIGS) - set(ENSEMBLES) - steps - CALLED_BY_TESTS == set(BLS_CALLEES)
    assert set(BLS_CALLEES.values()) <= steps | CALLED_BY_TESTS
    assert len(CONFIGS) == len(config_paths())  # no two repositories hold the same model
    assert (FIXTURE_REPOSITORY / FIXTURE_PIPELINE / "config.pbtxt").is_file()


@pytest.mark.parametrize("name", ENSEMBLES)
def test_ensemble_steps_fit_their_models(name: str):
    assert ensemble_problems(CONFIGS, name) == []


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_configs_agree_with_the_python_constants(check: Check):
    assert check(CONFIGS) == []


def test_committed_classifier_versions_answer_with_the_document_types():
    """The factory's classifier versions: each labels.txt (or, without one, the default) is
    DOCUMENT_TYPES, as long as the ONNX output."""
    assert classifier_label_problems(DOCUMENT_TYPES) == []


def test_a_renamed_document_type_fails():
    renamed = tuple("form" if name == "application_form" else name for name in DOCUMENT_TYPES)
    assert classifier_label_problems(renamed)


def _set_dims(model: str, name: str, dims: list[int]) -> Callable[[Configs], None]:
    def change(configs: Configs) -> None:
        found = tensor(configs[model], name)
        del found.dims[:]
        found.dims.extend(dims)
    return change


def _set_parameter(model: str, key: str, value: str) -> Callable[[Configs], None]:
    def change(configs: Configs) -> None:
        configs[model].parameters[key].string_value = value
    return change


def _step(configs: Configs, ensemble: str, model: str):
    return next(step for step in configs[ensemble].ensemble_scheduling.step if step.model_name == model)


def _rename_input_key(configs: Configs) -> None:
    step = _step(configs, "document_full", "page_decode")
    step.input_map["page_image"] = step.input_map["page_bytes"]
    del step.input_map["page_bytes"]


def _drop_required_input(configs: Configs) -> None:
    del _step(configs, "checkbox_form", "page_result").input_map["page_size"]


def _write_twice(configs: Configs) -> None:
    _step(configs, "signature_check", "page_thumbnail").output_map["elapsed_ms"] = "decode_ms"


def _unread_input(configs: Configs) -> None:
    configs["ocr"].input.add(name="page_number", data_type=DataType.TYPE_INT32, dims=[1])


def _unwritten_output(configs: Configs) -> None:
    configs["ocr"].output.add(name="page_language", data_type=DataType.TYPE_STRING, dims=[1])


def _rename_page_contract(configs: Configs) -> None:
    tensor(configs["ocr"], RESULT_OUTPUT).name = "page_json"
    _step(configs, "ocr", "page_result").output_map["page_result_json"] = "page_json"


def _retype(model: str, name: str, data_type: int) -> Callable[[Configs], None]:
    def change(configs: Configs) -> None:
        tensor(configs[model], name).data_type = data_type
    return change


def _drop_description(configs: Configs) -> None:
    del configs["signature_check"].parameters[DESCRIPTION_PARAMETER]


def _drop_step(ensemble: str, model: str) -> Callable[[Configs], None]:
    def change(configs: Configs) -> None:
        steps = configs[ensemble].ensemble_scheduling.step
        del steps[next(i for i, step in enumerate(steps) if step.model_name == model)]
    return change


NEGATIVE_CASES = [
    ("page limit changed", _set_parameter("page_decode", "max_pixels", "50000000"), step_parameter_problems),
    ("OCR limit changed", _set_parameter("text_detection_preprocess", "max_page_pixels", "1"),
     step_parameter_problems),
    ("recognizer batch changed", _set_parameter("ocr_lines", "recognition_batch_size", "8"),
     step_parameter_problems),
    ("form type renamed", _set_parameter("form_intake", EXPECTED_TYPES_PARAMETER, "application_forms"),
     form_intake_type_problems),
    ("car label renamed", _set_parameter(CAR_PIPELINE, "class_labels", "unacc,acc,good,very_good"),
     step_parameter_problems),
    ("part model dropped", _set_parameter("page_result", "part_models", json.dumps(
        {**MODELS, "text": ["text_detection"]})), part_model_problems),
    ("thumbnail resized", _set_dims("page_thumbnail", "page_thumbnail", [1, 1, 256, 256]),
     step_dims_problems),
    ("heatmap resized", _set_dims("signature_postprocess", "signature_heatmap", [1, 1, 64, 64]),
     wiring_problems),
    ("checkbox crop resized", _set_dims("checkbox", "checkbox_crops", [-1, 1, 28, 28]), step_dims_problems),
    ("orientation classes", _set_dims("page_orientation", "orientation_probabilities", [8]), wiring_problems),
    ("orientation batch too small",
     lambda configs: setattr(configs["page_orientation"], "max_batch_size", 16),
     orientation_batch_problems),
    ("document types fixed", _set_dims("doc_classifier", "document_type_probabilities", [5]),
     step_dims_problems),
    ("car feature count", _set_dims("car_evaluation_model", "car_features", [22]), wiring_problems),
    ("car attribute renamed", lambda configs: setattr(configs[CAR_PIPELINE].input[0], "name", "price"),
     car_tensor_problems),
    ("step input key renamed", _rename_input_key, wiring_problems),
    ("required input unmapped", _drop_required_input, wiring_problems),
    ("tensor written twice", _write_twice, wiring_problems),
    ("step output retyped", _retype("page_thumbnail", "page_thumbnail", DataType.TYPE_FP16),
     wiring_problems),
    ("step model missing", lambda configs: configs.pop("checkbox_select"), wiring_problems),
    ("ensemble input unread", _unread_input, wiring_problems),
    ("ensemble output unwritten", _unwritten_output, wiring_problems),
    ("page contract renamed", _rename_page_contract, page_contract_problems),
    ("pipeline description dropped", _drop_description, page_contract_problems),
    ("ensemble and reference disagree", _drop_step("document_full", "page_ocr"), reference_mirror_problems),
    ("pipeline not turned upright", _drop_step("ocr", "page_orientation"), reference_mirror_problems),
    ("typed output renamed", lambda configs: setattr(tensor(configs["page_result"], "page_skew_degrees"),
                                                     "name", "page_skew"), typed_output_problems),
    ("typed output retyped", _retype("page_result", "page_checkbox_checked", DataType.TYPE_INT8),
     typed_output_problems),
    ("exported tensor renamed", lambda configs: setattr(tensor(configs["text_detection"], "normalized_page"),
                                                        "name", "x"), python_tensor_name_problems),
    ("gate output differs from OCR's", _set_dims("ocr_gate", "line_polygons", [-1, 8]), bls_problems),
    ("golden set's tensor renamed", lambda configs: setattr(tensor(configs["deskew"], "skew_degrees"),
                                                            "name", "skew"), golden_set_problems),
    ("gateway's car model dropped", lambda configs: configs[CAR_PIPELINE].ensemble_scheduling.step.pop(1),
     gateway_model_problems),
]


@pytest.mark.parametrize(("change", "check"), [case[1:] for case in NEGATIVE_CASES],
                         ids=[case[0] for case in NEGATIVE_CASES])
def test_a_changed_value_fails_its_check(change: Callable[[Configs], None], check: Check):
    configs = _copy(CONFIGS)
    change(configs)
    assert check(configs), "the check did not notice the change"
    assert check(CONFIGS) == []
