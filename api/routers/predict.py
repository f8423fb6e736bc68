"""``POST /api/v1/predict``: the car evaluation pipeline, a batch of records per call."""

from __future__ import annotations

from fastapi import APIRouter
from loguru import logger

from docserve.api import API_PREFIX
from docserve.api.dependencies import CarEvaluationDep, SettingsDep
from docserve.api.logs import request_id_var
from docserve.api.schemas.car_evaluation import CarPredictRequest, CarPredictResponse
from docserve.api.schemas.errors import ErrorExample, error_responses
from docserve.contract.errors import PayloadTooLargeError

router = APIRouter(prefix=API_PREFIX, tags=["car evaluation"])
OUTSIDE_VOCABULARY = ErrorExample(
    "outside_vocabulary", "a value outside the field's enum, the model's vocabulary", "invalid_input",
    "unknown value 'cheap' for 'buying' in record 0; expected one of vhigh, high, med, low",
)


@router.post(
    "/predict",
    response_model=CarPredictResponse,
    responses=error_responses(
        400, 404, 413, 422, 502, 503,
        _400="a value outside the model's vocabulary (each field's enum), or a body that cannot be parsed",
        _404="the car evaluation pipeline is not loaded",
        _413="more records than DOCSERVE_MAX_PREDICT_RECORDS, or a body over DOCSERVE_MAX_JSON_BODY_BYTES",
        examples={400: [OUTSIDE_VOCABULARY]},
    ),
)
async def predict(
    body: CarPredictRequest, settings: SettingsDep, car_evaluation: CarEvaluationDep
) -> CarPredictResponse:
    """Classify each car as unacc, acc, good or vgood, with the probability of every class."""
    if len(body.inputs) > settings.max_predict_records:
        raise PayloadTooLargeError(
            f"{len(body.inputs)} records in one request; at most {settings.max_predict_records}"
        )
    result = await car_evaluation.predict(body.inputs, request_id=request_id_var.get())
    logger.bind(audit=True).info(
        "prediction pipeline={} version={} inputs={} outputs={}",
        car_evaluation.pipeline, result.model_version,
        [record.model_dump() for record in body.inputs], result.labels,
    )
    return CarPredictResponse(
        predictions=result.labels,
        probabilities=result.probabilities,
        model_name=car_evaluation.pipeline,
        model_version=result.model_version,
    )
