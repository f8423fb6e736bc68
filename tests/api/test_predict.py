"""POST /api/v1/predict through the gateway and the real Triton."""

from __future__ import annotations

import csv

from docserve.export.car_evaluation import DATA_FILE


def _dataset_rows() -> list[dict[str, str]]:
    with DATA_FILE.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_batch_returns_labels_probabilities_and_version(api, best_car, worst_car):
    response = api.post("/api/v1/predict", json={"inputs": [best_car, worst_car]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == ["vgood", "unacc"]
    assert set(body["probabilities"][0]) == {"unacc", "acc", "good", "vgood"}
    assert body["probabilities"][0]["vgood"] > 0.9
    assert body["model_name"] == "car_evaluation"
    assert body["model_version"] == "1"


def test_ten_thousand_records_in_one_call(api):
    rows = _dataset_rows()
    records = [{k: v for k, v in row.items() if k != "class"} for row in rows]
    expected = [row["class"] for row in rows]
    repeated = (records * 6)[:10_000]
    response = api.post("/api/v1/predict", json={"inputs": repeated})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 10_000
    # Order survives the chunks sent to Triton concurrently: a shuffle would wreck the agreement.
    agreement = sum(p == e for p, e in zip(predictions, expected, strict=False)) / len(rows)
    assert agreement >= 0.97
    assert predictions[len(rows) : 2 * len(rows)] == predictions[: len(rows)]


def test_more_than_the_limit_is_413(api, best_car):
    response = api.post("/api/v1/predict", json={"inputs": [best_car] * 10_001})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_unknown_category_is_400_naming_field_and_value(api, best_car):
    response = api.post("/api/v1/predict", json={"inputs": [best_car, {**best_car, "buying": "cheap"}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert "'cheap' for 'buying' in record 1" in error["message"]
    assert "vhigh, high, med, low" in error["message"]


def test_missing_field_is_422_with_its_location(api, best_car):
    incomplete = {k: v for k, v in best_car.items() if k != "safety"}
    response = api.post("/api/v1/predict", json={"inputs": [incomplete]})
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert details[0]["location"] == ["body", "inputs", 0, "safety"]
    assert details[0]["type"] == "missing"


def test_empty_list_is_422(api):
    response = api.post("/api/v1/predict", json={"inputs": []})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["location"] == ["body", "inputs"]


def test_wrong_types_are_422(api, best_car):
    bodies = ({"inputs": "cars"}, {"inputs": [{**best_car, "doors": 4}]}, [best_car], {"rows": [best_car]})
    for body in bodies:
        response = api.post("/api/v1/predict", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "validation_error"


def test_request_id_is_echoed_and_generated(api, best_car):
    response = api.post("/api/v1/predict", json={"inputs": [best_car]}, headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = api.post("/api/v1/predict", json={"inputs": [best_car]}).headers["x-request-id"]
    assert len(generated) == 32
