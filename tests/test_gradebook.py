"""tito/grading/gradebook.py's stand-in for `jsonschema` inside nbgrader's metadata validator: the same
verdict as `jsonschema.validate` on nbgrader's own schema, with the schema checked once."""

from __future__ import annotations

import jsonschema
import pytest
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

from tito.grading.gradebook import SchemaCheckedOnce

GOOD = {"grade": True, "grade_id": "test-add", "locked": True, "points": 5, "schema_version": 3, "solution": False,
        "task": False}
BAD = [dict(GOOD, points="five"), dict(GOOD, grade="yes"), {k: v for k, v in GOOD.items() if k != "solution"}]


def test_same_verdicts_as_jsonschema_validate_on_nbgraders_schema() -> None:
    schema = MetadataValidatorV3().schema
    checked = SchemaCheckedOnce(jsonschema)
    checked.validate(GOOD, schema)
    jsonschema.validate(GOOD, schema)
    for bad in BAD:
        with pytest.raises(jsonschema.ValidationError) as expected:
            jsonschema.validate(bad, schema)
        with pytest.raises(jsonschema.ValidationError) as got:
            checked.validate(bad, schema)
        assert got.value.message == expected.value.message


def test_each_schema_is_checked_once_and_only_recent_ones_are_kept() -> None:
    checked = SchemaCheckedOnce(jsonschema)
    schema = MetadataValidatorV3().schema
    for _ in range(5):
        checked.validate(GOOD, schema)
    assert len(checked.validators) == 1
    for _ in range(SchemaCheckedOnce.KEEP + 3):  # nbgrader loads a fresh schema per notebook
        checked.validate(GOOD, MetadataValidatorV3().schema)
    assert len(checked.validators) == SchemaCheckedOnce.KEEP


def test_an_invalid_schema_is_still_refused() -> None:
    with pytest.raises(jsonschema.SchemaError):
        SchemaCheckedOnce(jsonschema).validate({}, {"type": "no-such-type"})


def test_the_rest_of_the_module_is_jsonschema_itself() -> None:
    assert SchemaCheckedOnce(jsonschema).ValidationError is jsonschema.ValidationError
