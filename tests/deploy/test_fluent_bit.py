"""The Fluent Bit configurations (compose and the Kubernetes DaemonSet) against docserve's logs.

Fluent Bit itself cannot be installed here (no Debian or PyPI package): the configurations are
parsed as Fluent Bit's YAML format and checked for what would silently drop or garble logs — a
filter or output matching no input, a parser that is not defined, a time format that does not
read the time docserve writes, and the fields (request id, trace id) the search relies on.
"""

from __future__ import annotations

import fnmatch
import json
from datetime import datetime

import pytest
import yaml
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from docserve.api.logs import configure_logging, request_id_var
from docserve.api.settings import Settings
from docserve.contract.model_repositories import PROJECT_ROOT

CONFIGS = {
    "compose": PROJECT_ROOT / "docker" / "fluent-bit" / "docserve.yaml",
    "kubernetes": PROJECT_ROOT / "docker" / "k8s" / "base" / "logging" / "fluent-bit-config.yaml",
}
# Fluent Bit's strptime extension %L (fractional seconds) in Python's terms.
FLUENT_BIT_TO_PYTHON = {"%L": "%f"}


@pytest.fixture(params=sorted(CONFIGS))
def config(request: pytest.FixtureRequest) -> dict:
    return yaml.safe_load(CONFIGS[request.param].read_text())


def _input_tags(config: dict) -> list[str]:
    """Tags records enter with: an input's tag, or for forward inputs the sender's (docserve.*)."""
    return [item.get("tag", "docserve.gateway") for item in config["pipeline"]["inputs"]]


def test_every_filter_and_output_matches_an_input(config: dict) -> None:
    tags = _input_tags(config)
    stages = config["pipeline"].get("filters", []) + config["pipeline"]["outputs"]
    for stage in stages:
        example = [tag.replace("*", "docserve_gateway") for tag in tags]
        assert any(fnmatch.fnmatch(tag, stage["match"]) for tag in example), stage["name"]


def test_every_parser_used_is_defined(config: dict) -> None:
    defined = {parser["name"] for parser in config.get("parsers", [])}
    used = {stage[key] for stage in config["pipeline"].get("filters", [])
            for key in ("parser", "merge_parser") if key in stage}
    assert used and used <= defined


def test_logs_reach_elasticsearch_with_credentials_from_the_environment(config: dict) -> None:
    [output] = config["pipeline"]["outputs"]
    assert output["name"] == "es"
    assert output["http_passwd"] == "${ELASTICSEARCH_PASSWORD}"
    assert config["service"]["health_check"] is True


def test_the_parser_reads_the_lines_docserve_writes(config: dict, capsys: pytest.CaptureFixture) -> None:
    """A real log line from docserve.api.logs, inside a traced request, through the parser's rules."""
    line = _one_log_line(capsys)
    [parser] = config["parsers"]
    assert parser["format"] == "json"
    time_format = parser["time_format"]
    for fluent_bit, python in FLUENT_BIT_TO_PYTHON.items():
        time_format = time_format.replace(fluent_bit, python)
    datetime.strptime(line[parser["time_key"]], time_format)
    assert line["request_id"] == "req-42"
    assert len(line["trace_id"]) == 32 and int(line["trace_id"], 16)


def _one_log_line(capsys: pytest.CaptureFixture) -> dict:
    configure_logging(Settings(_env_file=None, log_json=True))
    tracer = TracerProvider().get_tracer("test")
    token = request_id_var.set("req-42")
    try:
        with tracer.start_as_current_span("request"):
            assert trace.get_current_span().get_span_context().is_valid
            logger.info("job stored")
    finally:
        request_id_var.reset(token)
    return json.loads(capsys.readouterr().err.strip().splitlines()[-1])
