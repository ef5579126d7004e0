"""Unit: resource.Quantity parsing and its canonical String(), as the validation messages show them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from celigo_testkit.kube.validation import (
    QUANTITY_FORMAT_ERROR,
    QUANTITY_SUFFIX_ERROR,
    QuantityError,
    format_quantity,
    parse_quantity,
    validate_annotations,
)


@pytest.mark.parametrize(
    ("text", "value", "canonical"),
    [
        ("1", Fraction(1), "1"),
        ("500m", Fraction(1, 2), "500m"),
        ("0.5", Fraction(1, 2), "500m"),
        ("1Gi", Fraction(2**30), "1Gi"),
        ("1024Mi", Fraction(2**30), "1Gi"),
        ("1536Mi", Fraction(1536 * 2**20), "1536Mi"),
        ("-1Gi", Fraction(-(2**30)), "-1Gi"),
        ("2k", Fraction(2000), "2k"),
        ("1e3", Fraction(1000), "1e3"),
        (2, Fraction(2), "2"),
        ("100n", Fraction(1, 10**7), "100n"),
    ],
)
def test_quantities(text: object, value: Fraction, canonical: str) -> None:
    parsed, fmt = parse_quantity(text)
    assert parsed == value
    assert format_quantity(parsed, fmt) == canonical


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("lots", QUANTITY_FORMAT_ERROR),
        ("1.2.3", QUANTITY_FORMAT_ERROR),
        ("1Gx", QUANTITY_FORMAT_ERROR),
        ("1iG", QUANTITY_SUFFIX_ERROR),
        (True, QUANTITY_FORMAT_ERROR),
        ([1], QUANTITY_FORMAT_ERROR),
    ],
)
def test_not_quantities(text: object, error: str) -> None:
    with pytest.raises(QuantityError) as exc:
        parse_quantity(text)
    assert str(exc.value) == error


def test_annotation_size_counts_bytes_of_keys_and_values() -> None:
    limit = 256 * 1024
    assert validate_annotations({"k": "x" * (limit - 1)}, "metadata.annotations") == []
    errs = validate_annotations({"k": "x" * limit}, "metadata.annotations")
    assert [e.error() for e in errs] == ["metadata.annotations: Too long: may not be more than 262144 bytes"]
    # a 3-byte character counts 3
    assert validate_annotations({"k": "€" * (limit // 3 + 1)}, "metadata.annotations") != []
