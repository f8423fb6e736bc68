"""Model versions in and out of a live Triton, behind a quality gate: ``docserve models ...``.

The live version of a model is the one its ``config.pbtxt`` pins (``version_policy: { specific:
{ versions: [V] } }``), so it survives restarts and reads the same to Triton and to people. To
**promote** version V, it is first loaded beside the live one under a candidate name (Triton's
load with a config and file override: ensembles, which call the model by its own name, never see
it), the model's **golden set** runs through both, and V is refused if its metric is worse than
the live version's by more than the set allows. Only then is V pinned and the model reloaded:
Triton loads V, switches new requests to it, lets in-flight ones finish on the old version and
unloads it, so callers see no failed request. **rollback** pins the version that was live before
(``live_versions.json`` in the model's folder keeps the order); **pin** pins any version, without
a gate.

**add** copies a version in and pins the live one first if the config serves "the newest
version": an added version is served by no reload (a restart, the gateway's step repair) until it
is promoted. Triton's own readiness stays false after a candidate failed to load (until Triton
restarts); the gateway's readiness reads the repository index instead, where a refused candidate
leaves nothing (:meth:`TritonClient.is_ready`).

A golden set is ``<model>/golden/``: its files are :mod:`docserve.contract.golden_sets`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from docserve.contract.golden_sets import EXPECTED_FILE, GOLDEN_FOLDER, INPUTS_FILE, SPEC_FILE, GoldenMetric
from docserve.inference.model_graph import called_models, parse_config_text

HISTORY_FILE = "live_versions.json"  # the versions made live, in order: what rollback goes back to
_POLICY = re.compile(r"^version_policy\s*:.*$", re.MULTILINE)


class ModelLifecycleError(RuntimeError):
    """A lifecycle step was refused (the reason is the message); nothing was switched."""


@dataclass(frozen=True)
class GateResult:
    metric: str
    live: float
    candidate: float
    max_drop: float

    @property
    def passed(self) -> bool:
        return self.drop <= self.max_drop

    @property
    def drop(self) -> float:
        """How much worse the candidate is (positive = worse), for either metric direction."""
        if self.metric == "accuracy":
            return self.live - self.candidate
        return self.candidate - self.live

    def describe(self) -> str:
        verdict = "passed" if self.passed else "REFUSED"
        return (f"golden set {self.metric}: live {self.live:.4f}, candidate {self.candidate:.4f} "
                f"(worse by {self.drop:.4f}, allowed {self.max_drop:.4f}): {verdict}")


@dataclass(frozen=True)
class ModelVersions:
    name: str
    on_disk: list[int]
    loaded: list[int]
    pinned: int | None
    used_by: list[str]


class ModelLifecycle:
    """Versions of the models in ``repositories``, against the Triton at ``triton_url`` (HTTP)."""

    def __init__(self, repositories: list[Path], triton_url: str = "localhost:8000"):
        self.repositories = repositories
        self.triton = httpclient.InferenceServerClient(triton_url, network_timeout=300)

    # -- reading --------------------------------------------------------------------------------
    def model_dir(self, model: str) -> Path:
        for repository in self.repositories:
            if (repository / model / "config.pbtxt").exists():
                return repository / model
        raise ModelLifecycleError(f"no model {model!r} in {', '.join(map(str, self.repositories))}")

    def versions(self, model: str) -> ModelVersions:
        folder = self.model_dir(model)
        on_disk = sorted(int(entry.name) for entry in folder.iterdir() if entry.name.isdigit())
        loaded = sorted(int(entry["version"]) for entry in self.triton.get_model_repository_index()
                        if entry["name"] == model and entry.get("state") == "READY")
        return ModelVersions(model, on_disk, loaded, _pinned((folder / "config.pbtxt").read_text()),
                             self._used_by(model))

    def all_versions(self) -> list[ModelVersions]:
        names = sorted({folder.name for repository in self.repositories for folder in repository.iterdir()
                        if (folder / "config.pbtxt").exists() and "ensemble" not in _platform(folder)})
        return [self.versions(name) for name in names]

    def _used_by(self, model: str) -> list[str]:
        """The ensembles that run ``model`` as a step and the python steps that call it (BLS)."""
        return sorted(folder.name for repository in self.repositories for folder in repository.iterdir()
                      if (folder / "config.pbtxt").exists()
                      and model in called_models(parse_config_text((folder / "config.pbtxt").read_text())))

    # -- changing -------------------------------------------------------------------------------
    def add(self, model: str, source: Path) -> int:
        """Copy a version folder (``model.onnx`` ...) in as the next version; returns its number.

        A config that serves "the newest version" would serve the new one at the model's next
        load (a step repair, a restart), gate or no gate: the live version is pinned first, so
        only :meth:`promote` (or :meth:`pin`) ever makes the new one live.
        """
        folder = self.model_dir(model)
        current = self.versions(model)
        if current.pinned is None and current.on_disk:
            config = folder / "config.pbtxt"
            config.write_text(_with_policy(config.read_text(), self._live(current)))
        version = max(current.on_disk, default=0) + 1
        shutil.copytree(source, folder / str(version))
        return version

    def promote(self, model: str, version: int) -> GateResult:
        """Gate ``version`` against the live one, then make it live; raises if refused."""
        current = self.versions(model)
        if version not in current.on_disk:
            raise ModelLifecycleError(f"{model} has no version {version} on disk ({current.on_disk})")
        live = self._live(current)
        gate = self._gate(model, version, live)
        if not gate.passed:
            raise ModelLifecycleError(f"{model} version {version} not promoted: {gate.describe()}")
        self.pin(model, version)
        return gate

    def rollback(self, model: str) -> int:
        """Make the version that was live before the current one live again; returns it."""
        current = self.versions(model)
        live = self._live(current)
        history = self._history(model)
        if len(history) >= 2 and history[-1] == live:
            previous = history[-2]
        else:  # never switched by this tool: the highest version below the live one
            older = [version for version in current.on_disk if version < live]
            if not older:
                raise ModelLifecycleError(f"{model}: no version before the live {live} to roll back to")
            previous = older[-1]
        self._switch(model, previous)
        self._write_history(model, [*history[:-1], previous] if history else [previous])
        return previous

    def pin(self, model: str, version: int) -> None:
        """Make ``version`` the live one (persisted in config.pbtxt), without a gate."""
        live = self.versions(model).loaded
        self._switch(model, version)
        history = self._history(model) or live[:1]
        self._write_history(model, [*history, version])

    def _history(self, model: str) -> list[int]:
        path = self.model_dir(model) / HISTORY_FILE
        return json.loads(path.read_text())["live"] if path.exists() else []

    def _write_history(self, model: str, live: list[int]) -> None:
        (self.model_dir(model) / HISTORY_FILE).write_text(json.dumps({"live": live}) + "\n")

    def _switch(self, model: str, version: int) -> None:
        """Pin ``version`` in config.pbtxt and have Triton serve it (new version up, then old down)."""
        folder = self.model_dir(model)
        if not (folder / str(version)).is_dir():
            raise ModelLifecycleError(f"{model} has no version {version} on disk")
        config = folder / "config.pbtxt"
        before = config.read_text()
        config.write_text(_with_policy(before, version))
        try:
            self.triton.load_model(model)
        except InferenceServerException as error:
            config.write_text(before)  # Triton keeps serving the old version: so does the config
            raise ModelLifecycleError(f"Triton could not load {model} version {version}: {error}") from error
        loaded = self.versions(model).loaded
        if loaded != [version]:
            raise ModelLifecycleError(f"{model}: Triton serves {loaded}, not [{version}]")

    # -- the gate -------------------------------------------------------------------------------
    def _live(self, current: ModelVersions) -> int:
        if len(current.loaded) != 1:
            raise ModelLifecycleError(f"{current.name}: {current.loaded} loaded; expected one live version")
        return current.loaded[0]

    def _gate(self, model: str, version: int, live: int) -> GateResult:
        folder = self.model_dir(model)
        golden = folder / GOLDEN_FOLDER
        if not (golden / SPEC_FILE).exists():
            raise ModelLifecycleError(f"{model} has no golden set ({golden}/{SPEC_FILE}): needed to promote")
        spec = json.loads((golden / SPEC_FILE).read_text())
        inputs, expected = np.load(golden / INPUTS_FILE), np.load(golden / EXPECTED_FILE)
        if "input_scale" in spec:  # stored compactly (8-bit pages): back to the model's floats
            inputs = (inputs * np.float32(spec["input_scale"])).astype(np.float32)
        candidate = f"{model}__candidate_{version}"
        self._load_candidate(model, version, candidate)
        try:
            scores = [_score(spec, expected, self._infer(name, spec, inputs))
                      for name in (model, candidate)]
        finally:
            self.triton.unload_model(candidate)
        return GateResult(spec["metric"], scores[0], scores[1], float(spec["max_drop"]))

    def _load_candidate(self, model: str, version: int, candidate: str) -> None:
        folder = self.model_dir(model) / str(version)
        config = self.triton.get_model_config(model)
        config["name"] = candidate
        config["version_policy"] = {"specific": {"versions": [version]}}
        files = {f"file:{version}/{path.relative_to(folder)}": path.read_bytes()
                 for path in folder.rglob("*") if path.is_file()}
        try:
            self.triton.load_model(candidate, config=json.dumps(config), files=files)
        except InferenceServerException as error:
            raise ModelLifecycleError(f"{model} version {version} does not load: {error}") from error

    def _infer(self, name: str, spec: dict, inputs: np.ndarray) -> np.ndarray:
        """The model's outputs for the golden inputs, in batches the model accepts."""
        batch = self.triton.get_model_config(name).get("max_batch_size") or len(inputs)
        outputs = []
        for start in range(0, len(inputs), batch):
            chunk = np.ascontiguousarray(inputs[start:start + batch])
            tensor = httpclient.InferInput(spec["input"], list(chunk.shape), np_to_triton_dtype(chunk.dtype))
            tensor.set_data_from_numpy(chunk)
            outputs.append(self.triton.infer(name, [tensor]).as_numpy(spec["output"]))
        return np.concatenate(outputs)


def _score(spec: dict, expected: np.ndarray, outputs: np.ndarray) -> float:
    if spec["metric"] == GoldenMetric.ACCURACY:
        return float(np.mean(outputs.argmax(axis=-1) == expected))
    if spec["metric"] == GoldenMetric.MEAN_ABSOLUTE_ERROR:
        return float(np.mean(np.abs(outputs.reshape(expected.shape) - expected)))
    raise ModelLifecycleError(f"unknown golden-set metric {spec['metric']!r}")


def _platform(folder: Path) -> str:
    match = re.search(r'^platform:\s*"([^"]+)"', (folder / "config.pbtxt").read_text(), re.MULTILINE)
    return match.group(1) if match else ""


def _pinned(config: str) -> int | None:
    match = re.search(r"specific\s*:\s*\{\s*versions\s*:\s*\[?\s*(\d+)", config)
    return int(match.group(1)) if match else None


def _with_policy(config: str, version: int) -> str:
    policy = f"version_policy: {{ specific: {{ versions: [ {version} ] }} }}"
    if _POLICY.search(config):
        return _POLICY.sub(policy, config, count=1)
    return config.rstrip("\n") + "\n" + policy + "\n"
