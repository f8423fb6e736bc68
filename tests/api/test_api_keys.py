"""API keys through the real gateway and Triton: who may call, whose jobs they see, how often."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sample_documents import png_page
from two_owners import two_owners_of_one_request_id
from typer.testing import CliRunner

from docserve.api.api_keys import KeysFile
from docserve.api.app import create_app
from docserve.cli.main import app as cli

PIPELINE = "page_probe_pipeline"


@pytest.fixture
def keys(tmp_path) -> tuple[KeysFile, dict[str, str]]:
    keys_file = KeysFile.load(tmp_path / "keys" / "api-keys.json")
    issued = {"alice": keys_file.create("alice"), "bob": keys_file.create("bob"),
              "carol": keys_file.create("carol"), "rita": keys_file.create("rita", rate_per_minute=3)}
    keys_file.revoke("carol")
    return keys_file, issued


@pytest.fixture
def keyed_api(jobs_settings, probe_pipeline, keys):
    settings = jobs_settings.model_copy(update={"api_keys_file": keys[0].path})
    with TestClient(create_app(settings)) as client:
        yield client, keys[1]


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_api_routes_need_a_valid_key_and_probes_stay_open(keyed_api):
    client, issued = keyed_api
    missing = client.get("/api/v1/pipelines")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/pipelines", headers=_as("dsk_not-a-key")).status_code == 401
    revoked = client.get("/api/v1/pipelines", headers=_as(issued["carol"]))
    assert revoked.status_code == 403 and revoked.json()["error"]["code"] == "key_revoked"
    assert client.get("/api/v1/health").status_code == 401
    assert client.get("/api/v1/pipelines", headers=_as(issued["alice"])).status_code == 200
    assert client.get("/api/v1/health", headers={"X-API-Key": issued["alice"]}).status_code == 200
    for open_path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(open_path).status_code == 200, open_path


def test_a_key_sees_only_its_own_jobs(keyed_api, inbox):
    client, issued = keyed_api
    (inbox / "page.png").write_bytes(png_page(21, 12))
    body = {"request_id": "owned-1", "pipeline": PIPELINE, "location": f"file://{inbox}/page.png"}
    assert client.post("/api/v1/jobs", json=body, headers=_as(issued["alice"])).status_code == 202
    job = client.get("/api/v1/jobs/owned-1?wait=20", headers=_as(issued["alice"])).json()
    deadline = time.monotonic() + 30
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        job = client.get("/api/v1/jobs/owned-1?wait=20", headers=_as(issued["alice"])).json()
    assert job["status"] == "succeeded", job
    assert job["result"]["pages"][0]["result"]["page"] == {"width": 21, "height": 12}
    assert client.get("/api/v1/jobs/owned-1", headers=_as(issued["bob"])).status_code == 404
    assert client.delete("/api/v1/jobs/owned-1", headers=_as(issued["bob"])).status_code == 404
    listed = client.get("/api/v1/jobs", headers=_as(issued["bob"])).json()
    assert listed == {"jobs": [], "counts": {}}
    mine = client.get("/api/v1/jobs", headers=_as(issued["alice"])).json()
    assert [job["request_id"] for job in mine["jobs"]] == ["owned-1"]


def test_two_keys_each_have_their_own_job_under_one_request_id(jobs_settings, probe_pipeline, keys, inbox):
    """SQLite store: bob's alice-1 is his own job, not a 409, and never touches alice's."""
    settings = jobs_settings.model_copy(update={"api_keys_file": keys[0].path})

    def gateway(run_workers: bool) -> TestClient:
        return TestClient(create_app(settings.model_copy(update={"run_workers": run_workers})))

    two_owners_of_one_request_id(gateway, inbox, keys[1])


def test_a_key_over_its_rate_is_429_with_retry_after(keyed_api):
    client, issued = keyed_api
    answers = [client.get("/api/v1/pipelines", headers=_as(issued["rita"])) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 20
    assert client.get("/api/v1/pipelines", headers=_as(issued["alice"])).status_code == 200  # per key


def test_revoking_a_key_takes_effect_without_a_restart(keyed_api, keys):
    client, issued = keyed_api
    assert client.get("/api/v1/pipelines", headers=_as(issued["alice"])).status_code == 200
    keys[0].revoke("alice")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if client.get("/api/v1/pipelines", headers=_as(issued["alice"])).status_code == 403:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the revoked key still works")


def test_jobs_by_a_client_with_its_key(keyed_api, inbox):
    from docserve.client.rest import DocServeClient

    client, issued = keyed_api
    with DocServeClient(transport=_through(client), base_url="http://testserver",
                        api_key=issued["alice"]) as rest:
        rest.upload("owned-2", png_page(8, 9), PIPELINE)
        assert rest.wait("owned-2", timeout=30).result.pages[0].result.page.height == 9


def _through(test_client: TestClient) -> httpx.MockTransport:
    """An httpx transport that hands each request to the app through the TestClient.

    The TestClient's own transport cannot be lent to an httpx client: with httpx2 installed
    (confluent-kafka's schema-registry extra needs it), starlette builds the TestClient on httpx2.
    """
    def handle(request: httpx.Request) -> httpx.Response:
        answer = test_client.request(request.method, str(request.url), headers=dict(request.headers),
                                     content=request.read())
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx.MockTransport(handle)


def test_keys_commands_and_the_loopback_guard(tmp_path):
    runner = CliRunner()
    keys_file = tmp_path / "api-keys.json"
    created = runner.invoke(cli, ["keys", "create", "dana", "--rate-per-minute", "60",
                                  "--file", str(keys_file)])
    assert created.exit_code == 0, created.output
    key = created.stdout.splitlines()[0]
    assert key.startswith("dsk_") and key not in keys_file.read_text()  # stored as a hash only
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    assert "dana" in runner.invoke(cli, ["keys", "list", "--file", str(keys_file)]).output
    twice = runner.invoke(cli, ["keys", "create", "dana", "--file", str(keys_file)])
    assert twice.exit_code == 2 and "exists already" in twice.output
    for name in ("", "x" * 101):  # a name owns jobs and names their files' folder: 1 to 100 bytes
        refused = runner.invoke(cli, ["keys", "create", name, "--file", str(keys_file)])
        assert refused.exit_code == 2 and "1 to 100 bytes" in refused.output
    assert runner.invoke(cli, ["keys", "revoke", "dana", "--file", str(keys_file)]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["keys", "list", "--file", str(keys_file)]).output
    exposed = runner.invoke(cli, ["serve", "--host", "0.0.0.0"], env={"DOCSERVE_API_KEYS_FILE": None})
    assert exposed.exit_code == 2 and "without API keys" in exposed.output
