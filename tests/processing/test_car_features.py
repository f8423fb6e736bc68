"""The car feature contract shared by training and Triton's preprocessing model."""

from __future__ import annotations

import numpy as np
import pytest

from docserve.processing.car_features import (
    FEATURE_COUNT,
    UnknownCategoryError,
    encode_columns,
    encode_records,
    labels_for,
)

CAR = {"buying": "low", "maint": "med", "doors": "5more", "persons": "more",
       "lug_boot": "big", "safety": "high"}


def test_one_hot_has_one_bit_per_attribute_in_the_right_place():
    features = encode_records([CAR])
    assert features.shape == (1, FEATURE_COUNT) and features.dtype == np.float32
    assert features.sum() == 6
    # buying=low is the 4th buying value; safety=high the last feature of all.
    assert features[0, 3] == 1 and features[0, FEATURE_COUNT - 1] == 1


def test_bytes_and_str_encode_identically():
    as_bytes = {name: [value.encode()] for name, value in CAR.items()}
    np.testing.assert_array_equal(encode_columns(as_bytes), encode_records([CAR]))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**CAR, "doors": "6"}, "unknown value '6' for 'doors' in record 0; expected one of 2, 3, 4, 5more"),
        ({k: v for k, v in CAR.items() if k != "maint"}, "record 0 has no 'maint'"),
        ({**CAR, "safety": "HIGH"}, "unknown value 'HIGH' for 'safety'"),
    ],
)
def test_bad_records_are_refused_with_the_reason(record, message):
    with pytest.raises(UnknownCategoryError, match=message):
        encode_records([record])


def test_columns_of_different_lengths_are_refused():
    columns = {name: [value] for name, value in CAR.items()}
    columns["safety"] = ["low", "med"]
    with pytest.raises(UnknownCategoryError, match="differ in length"):
        encode_columns(columns)


def test_labels_follow_the_argmax():
    probabilities = np.array([[0.1, 0.7, 0.1, 0.1], [0.0, 0.0, 0.0, 1.0]], dtype=np.float32)
    assert labels_for(probabilities) == ["acc", "vgood"]
