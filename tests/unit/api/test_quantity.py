"""Kubernetes quantities: parsing and canonical printing match apimachinery's rules."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from aimctl.api.quantity import QUANTITY_PATTERN, Quantity, QuantityFormat, QuantityParseError, parse_quantity
from tests.support.api_strategies import quantity_text

CANONICAL = [
    # zero in every format prints "0"
    ("0", "0"),
    ("0Mi", "0"),
    ("0m", "0"),
    ("0e3", "0"),
    # binary SI: largest suffix with an integer mantissa; below 1024 or fractional -> decimal SI
    ("1Ki", "1Ki"),
    ("1024", "1024"),
    ("1024Ki", "1Mi"),
    ("2048Ki", "2Mi"),
    ("0.5Gi", "512Mi"),
    ("1.5Gi", "1536Mi"),
    ("1536Mi", "1536Mi"),
    ("0.5Ki", "512"),
    ("1.5Ki", "1536"),
    ("3Ei", "3Ei"),
    ("1024Ei", "1024Ei"),
    ("-1Ki", "-1Ki"),
    ("-0.5Gi", "-512Mi"),
    ("1.0001Ki", "1024102400u"),
    # decimal SI: integer mantissa, exponent a multiple of three
    ("1", "1"),
    ("1.5", "1500m"),
    (".5", "500m"),
    ("1.", "1"),
    ("100m", "100m"),
    ("1000m", "1"),
    ("1500m", "1500m"),
    ("1000", "1k"),
    ("1500", "1500"),
    ("1M", "1M"),
    ("1000k", "1M"),
    ("0.001", "1m"),
    ("0.0001", "100u"),
    ("0.1m", "100u"),
    ("1u", "1u"),
    ("+5", "5"),
    ("-0.5", "-500m"),
    ("123456789", "123456789"),
    # precision is 1n: anything smaller rounds up, away from zero
    ("0.1n", "1n"),
    ("-0.1n", "-1n"),
    ("0.0000000015", "2n"),
    # decimal exponent keeps its format
    ("1e3", "1e3"),
    ("1E6", "1e6"),
    ("1.5e3", "1500"),
    ("12e-3", "12e-3"),
    ("1e-12", "1e-9"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_form(text: str, canonical: str) -> None:
    assert str(Quantity.parse(text)) == canonical


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "1 Mi", "Ki", "1Kii", "1KB", "1K", "e3", "1e", "1e1.5", "1.1.1", "-", "1i", "1.5e3Mi", "0x10"],
)
def test_rejects_malformed(text: str) -> None:
    with pytest.raises(QuantityParseError):
        Quantity.parse(text)
    assert not re.match(QUANTITY_PATTERN, text)


def test_formats_follow_the_suffix() -> None:
    assert Quantity.parse("1Mi").format is QuantityFormat.BINARY_SI
    assert Quantity.parse("1M").format is QuantityFormat.DECIMAL_SI
    assert Quantity.parse("1e6").format is QuantityFormat.DECIMAL_EXPONENT
    assert Quantity.parse("1e6") == Quantity.parse("1M")


def test_model_size_from_discovery_prints_like_the_go_operator() -> None:
    # The discovery output says size_gb=0.5; the template status stores int(0.5 * 1024**3) bytes.
    assert str(Quantity.from_bytes(int(0.5 * 1024**3))) == "512Mi"
    assert str(Quantity.from_bytes(int(16.07 * 1024**3))) == "17255031111"
    assert str(Quantity.from_bytes(16 * 1024**3)) == "16Gi"


def test_comparison_and_accessors_use_the_value() -> None:
    assert Quantity.parse("1Gi") == Quantity.parse("1073741824")
    assert hash(Quantity.parse("1Gi")) == hash(Quantity.parse("1073741824"))
    assert Quantity.parse("500m") < Quantity.parse("1") <= Quantity.parse("1000m")
    assert Quantity.parse("1500m").ceil_int() == 2
    assert Quantity.parse("1.5").milli_value() == 1500
    assert Quantity.parse("0.5Gi").value == Decimal(536870912)


def test_coerce_accepts_manifest_values() -> None:
    assert str(parse_quantity(3)) == "3"
    assert str(Quantity.coerce(0.25)) == "250m"
    assert str(Quantity.coerce("2Gi")) == "2Gi"
    with pytest.raises(QuantityParseError):
        Quantity.coerce(True)
    with pytest.raises(QuantityParseError):
        Quantity.coerce(None)


def test_pydantic_field_parses_and_dumps_canonically() -> None:
    class Holder(BaseModel):
        size: Quantity

    holder = Holder.model_validate({"size": "0.5Gi"})
    assert holder.size == Quantity.parse("512Mi")
    assert holder.model_dump() == {"size": "512Mi"}
    assert holder.model_dump(mode="json") == {"size": "512Mi"}
    assert yaml.safe_dump(holder.model_dump()) == "size: 512Mi\n"
    with pytest.raises(ValidationError, match="quantities must match"):
        Holder.model_validate({"size": "lots"})


@given(quantity_text())
def test_canonical_text_is_a_fixed_point_with_the_same_value(text: str | int) -> None:
    quantity = Quantity.coerce(text)
    canonical = str(quantity)
    again = Quantity.parse(canonical)
    assert again == quantity
    assert str(again) == canonical
    assert re.match(QUANTITY_PATTERN, canonical)


@given(st.from_regex(QUANTITY_PATTERN, fullmatch=True).filter(lambda s: len(s) < 30))
def test_everything_the_crd_pattern_admits_parses(text: str) -> None:
    # The CRD pattern and the parser must agree, or the operator could not read an admitted object.
    quantity = Quantity.parse(text.strip("\n"))
    assert str(quantity)


@given(st.integers(min_value=0, max_value=2**70))
def test_integers_round_trip_exactly(number: int) -> None:
    assert Quantity.parse(str(Quantity.coerce(number))).value == number
    binary = Quantity.from_bytes(number)
    assert Quantity.parse(str(binary)).value == number
