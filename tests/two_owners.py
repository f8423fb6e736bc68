"""Two API keys, one request id: each key's is its own job (issue 26, defect 11), on any job backend.

Request ids are the clients' own, so they are unique per owner only: bob submitting ``alice-1``
must neither collide with alice's ``alice-1`` (a 409 would tell him it exists and let him take ids
first) nor see, change or cancel it. The scenario runs through the real gateway on whichever
backend ``gateway`` opens: first without workers (everything stays queued, so a cancel can be
seen to touch one job only), then with workers, which must run each owner's job on its own body.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from fastapi.testclient import TestClient
from job_polling import wait_for_job
from sample_documents import png_page

PIPELINE = "page_probe_pipeline"
SIZES = {"alice": (21, 12), "bob": (33, 17)}  # each owner's page: its result says whose body ran
ALICE_ONLY = "alice-3"

Gateway = Callable[[bool], AbstractContextManager[TestClient]]  # run_workers -> an open gateway


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def two_owners_of_one_request_id(gateway: Gateway, inbox: Path, keys: dict[str, str]) -> None:
    """alice and bob each submit ``alice-1`` and ``alice-2`` with their own bodies; bob cancels his
    ``alice-2``; then the workers run: every job as its owner submitted it."""
    bodies = {}
    for owner, (width, height) in SIZES.items():
        (inbox / f"{owner}.png").write_bytes(png_page(width, height))
        bodies[owner] = {"pipeline": PIPELINE, "location": f"file://{inbox}/{owner}.png"}
    alice, bob = _as(keys["alice"]), _as(keys["bob"])
    with gateway(False) as api:  # no workers: every job stays queued
        for request_id in ("alice-1", "alice-2"):
            for owner, headers in (("alice", alice), ("bob", bob)):
                answer = api.post("/api/v1/jobs", json={"request_id": request_id, **bodies[owner]},
                                  headers=headers)
                assert answer.status_code == 202, (owner, request_id, answer.text)
                assert answer.json()["location"] == bodies[owner]["location"]
        assert api.post("/api/v1/jobs", json={"request_id": ALICE_ONLY, **bodies["alice"]},
                        headers=alice).status_code == 202
        again = api.post("/api/v1/jobs", json={"request_id": "alice-1", **bodies["bob"]}, headers=bob)
        assert again.status_code == 200  # idempotent, per owner
        changed = api.post("/api/v1/jobs", json={"request_id": "alice-1", **bodies["alice"]}, headers=bob)
        assert changed.status_code == 409  # bob's own alice-1 has another body
        cancelled = api.delete("/api/v1/jobs/alice-2", headers=bob)
        assert cancelled.status_code == 200 and cancelled.json()["location"] == bodies["bob"]["location"]
        untouched = api.get("/api/v1/jobs/alice-2", headers=alice).json()
        assert (untouched["status"], untouched["location"]) == ("queued", bodies["alice"]["location"])
        for method in ("get", "delete"):  # alice's id bob never used: 404 like any unknown id
            hidden = getattr(api, method)(f"/api/v1/jobs/{ALICE_ONLY}", headers=bob)
            unknown = getattr(api, method)("/api/v1/jobs/never-used", headers=bob)
            assert (hidden.status_code, hidden.json()["error"]["code"]) == \
                (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
        listed = api.get("/api/v1/jobs", headers=bob).json()
        assert {job["location"] for job in listed["jobs"]} == {bodies["bob"]["location"]}
        assert listed["counts"] == {"queued": 1, "cancelled": 1}
        assert api.get("/api/v1/jobs", headers=alice).json()["counts"] == {"queued": 3}
    expected = {("alice", "alice-1"): "succeeded", ("alice", "alice-2"): "succeeded",
                ("alice", ALICE_ONLY): "succeeded", ("bob", "alice-1"): "succeeded",
                ("bob", "alice-2"): "cancelled"}
    with gateway(True) as api:
        for (owner, request_id), status in expected.items():  # alice reads first: no cache may serve bob hers
            job = wait_for_job(api, request_id, timeout_s=60, headers=alice if owner == "alice" else bob)
            assert job["status"] == status, (owner, request_id, job)
            if status == "succeeded":
                width, height = SIZES[owner]
                assert job["result"]["pages"][0]["result"]["page"] == {"width": width, "height": height}
