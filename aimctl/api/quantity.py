"""Kubernetes resource quantities: parsing and canonical printing, as `k8s.io/apimachinery` does it.

Why our own: sizes written into status (``modelSources[].size``) and into children (PVC requests) must
print exactly like the Go operator printed them, so dashboards and comparisons keep working
(``0.5 GiB`` of model becomes ``512Mi``; ``1.5`` CPUs become ``1500m``). The rules reproduced here are
those of ``resource.ParseQuantity`` and ``Quantity.String``:

* a quantity is a signed decimal number followed by an optional suffix: a binary SI suffix
  (``Ki Mi Gi Ti Pi Ei``), a decimal SI suffix (``n u m k M G T P E``, or none) or a decimal exponent
  (``e3``, ``E-2``). The suffix fixes the *format* the quantity is printed back in;
* values are rounded **up** (away from zero) to a multiple of ``1n`` (10^-9);
* printing: binary quantities stay binary only when the value is an integer of magnitude >= 1024
  (``0.5Ki`` prints ``512``, ``1.5Ki`` prints ``1536``), and use the largest suffix that leaves an
  integer mantissa; decimal quantities use an integer mantissa and an exponent that is a multiple
  of three (``1.5`` prints ``1500m``, ``1000`` prints ``1k``, ``1e3`` prints ``1e3``).

Caveats: the apiserver does not canonicalise quantities stored in custom resources (an
int-or-string field keeps what the client sent), so the operator canonicalises on parse. Values above
``Ei`` in binary format print with the largest known suffix; Go prints such values without a suffix
(a bug we do not copy).

Pure module: no I/O, and pydantic is imported only when a model builds a ``Quantity`` field's schema
(``aimctl run`` parses quantities without pydantic: :mod:`aimctl.api.enums`).
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import core_schema

__all__ = [
    "QUANTITY_PATTERN",
    "Quantity",
    "QuantityFormat",
    "QuantityParseError",
    "parse_quantity",
]


class QuantityParseError(ValueError):
    """The text is not a Kubernetes quantity."""


class QuantityFormat(StrEnum):
    """How a quantity prints: the family of the suffix it was written with."""

    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


# Exponents of the suffixes: base 2 for binary, base 10 for decimal.
_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES: dict[str, int] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_DECIMAL_BY_EXPONENT: dict[int, str] = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT: dict[int, str] = {v: k for k, v in _BINARY_SUFFIXES.items()}

#: The pattern the CRDs carry for quantity strings. It accepts exactly what :func:`parse_quantity`
#: accepts, so anything the apiserver admits, the operator can parse (the upstream pattern also
#: admits fractional exponents such as ``1e1.5``, which Go's parser then rejects). Exponents have at
#: most 15 digits: a longer one is beyond what a decimal can hold (Go's parser refuses them too), and no
#: quantity needs one.
QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]{1,15})?$"

_QUANTITY_RE = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]{1,15})?$"
)
_NANO = Decimal("1e-9")


def _context(digits: int, *, exact: bool = True) -> decimal.Context:
    """A decimal context with room for ``digits`` digits; when ``exact``, any rounding traps."""
    traps: list[type[decimal.DecimalException]] = [decimal.InvalidOperation, decimal.Overflow]
    if exact:
        traps.append(decimal.Inexact)
    return decimal.Context(prec=max(digits, 1) + 40, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=traps)


def _digits(value: Decimal) -> int:
    return len(value.as_tuple().digits)


def _round_up_to_nano(value: Decimal) -> Decimal:
    """Round away from zero to a multiple of 10^-9, as ParseQuantity does (never rounds to zero)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= -9:
        return value
    return value.quantize(_NANO, rounding=decimal.ROUND_UP, context=_context(_digits(value), exact=False))


def _strip_decimal(value: Decimal) -> tuple[int, int]:
    """``value`` as ``(mantissa, exponent)`` with no trailing zeros in the mantissa (0 -> (0, 0))."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits).lstrip("0")
    if not text:
        return 0, 0
    stripped = text.rstrip("0")
    exponent += len(text) - len(stripped)
    mantissa = int(stripped)
    return (-mantissa if sign else mantissa), exponent


class Quantity:
    """An exact Kubernetes quantity: a decimal value and the format it prints in.

    Equality, ordering and hashing follow the value only (``1Gi == 1073741824``), like Go's ``Cmp``;
    :meth:`__str__` gives the canonical text. In pydantic models a ``Quantity`` field accepts strings,
    integers, floats or ``Quantity`` objects and serialises to the canonical string.
    """

    __slots__ = ("_format", "_value")

    def __init__(self, value: Decimal | int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> None:
        """A quantity of exactly ``value`` (rounded up to 1n) printed in ``fmt``; see :meth:`parse`."""
        dec = value if isinstance(value, Decimal) else Decimal(value)
        if not dec.is_finite():
            raise QuantityParseError(f"quantity must be finite, got {value!r}")
        self._value = _round_up_to_nano(dec)
        self._format = fmt

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Parse Kubernetes quantity text (``"512Mi"``, ``"1.5"``, ``"100m"``, ``"1e3"``)."""
        match = _QUANTITY_RE.match(text)
        if match is None:
            raise QuantityParseError(f"quantities must match the regular expression {QUANTITY_PATTERN!r}")
        number = Decimal(match["number"])
        if match["sign"] == "-":
            number = -number
        suffix = match["suffix"] or ""
        if suffix in _BINARY_SUFFIXES:
            factor = 2 ** _BINARY_SUFFIXES[suffix]
            value = _context(_digits(number) + 20).multiply(number, Decimal(factor))
            return cls(value, QuantityFormat.BINARY_SI)
        if suffix in _DECIMAL_SUFFIXES:
            value = number.scaleb(_DECIMAL_SUFFIXES[suffix], _context(_digits(number)))
            return cls(value, QuantityFormat.DECIMAL_SI)
        try:
            value = number.scaleb(int(suffix[1:]), _context(_digits(number)))
        except decimal.DecimalException as err:  # an exponent beyond what Decimal can hold
            raise QuantityParseError(f"quantity {text!r} is out of range") from err
        return cls(value, QuantityFormat.DECIMAL_EXPONENT)

    @classmethod
    def from_bytes(cls, count: int) -> Quantity:
        """An integer number of bytes, printed in binary SI (``536870912`` -> ``512Mi``)."""
        return cls(Decimal(count), QuantityFormat.BINARY_SI)

    @classmethod
    def coerce(cls, value: object) -> Quantity:
        """Accept what a manifest may hold: a string, an integer, a float, or a ``Quantity``."""
        if isinstance(value, Quantity):
            return value
        if isinstance(value, bool):
            raise QuantityParseError("a boolean is not a quantity")
        if isinstance(value, int):
            return cls.parse(str(value))
        if isinstance(value, float):
            return cls(Decimal(repr(value)), QuantityFormat.DECIMAL_SI)
        if isinstance(value, str):
            return cls.parse(value)
        raise QuantityParseError(f"expected a quantity string or number, got {type(value).__name__}")

    # -- accessors ----------------------------------------------------------------------------
    @property
    def value(self) -> Decimal:
        """The exact value (a multiple of 10^-9)."""
        return self._value

    @property
    def format(self) -> QuantityFormat:
        return self._format

    def ceil_int(self) -> int:
        """The value rounded up to an integer, like Go's ``Quantity.Value()``."""
        return int(self._value.to_integral_value(rounding=decimal.ROUND_CEILING))

    def milli_value(self) -> int:
        """The value in thousandths, rounded up, like Go's ``Quantity.MilliValue()``."""
        return int((self._value * 1000).to_integral_value(rounding=decimal.ROUND_CEILING))

    # -- printing -----------------------------------------------------------------------------
    def __str__(self) -> str:
        value = self._value
        if value.is_zero():
            return "0"
        fmt = self._format
        if fmt is QuantityFormat.BINARY_SI:
            if -1024 < value < 1024 or value != value.to_integral_value():
                fmt = QuantityFormat.DECIMAL_SI
            else:
                return self._binary_text(int(value))
        mantissa, exponent = _strip_decimal(value)
        shift = exponent % 3
        mantissa *= 10**shift
        exponent -= shift
        if fmt is QuantityFormat.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
            return f"{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)

    @staticmethod
    def _binary_text(number: int) -> str:
        power = 0
        while power < 60 and number % 1024 == 0:
            number //= 1024
            power += 10
        return f"{number}{_BINARY_BY_EXPONENT.get(power, '')}"

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    # -- comparison (by value, like Go's Cmp) ---------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._value == other._value
        return NotImplemented

    def __lt__(self, other: Quantity) -> bool:
        return self._value < other._value

    def __le__(self, other: Quantity) -> bool:
        return self._value <= other._value

    def __gt__(self, other: Quantity) -> bool:
        return self._value > other._value

    def __ge__(self, other: Quantity) -> bool:
        return self._value >= other._value

    def __hash__(self) -> int:
        return hash(self._value)

    # -- pydantic integration -----------------------------------------------------------------
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str, return_schema=core_schema.str_schema()),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": QUANTITY_PATTERN}]}

    @classmethod
    def _validate(cls, value: object) -> Quantity:
        try:
            return cls.coerce(value)
        except QuantityParseError as err:
            raise ValueError(str(err)) from err


def parse_quantity(text: str | int) -> Quantity:
    """Parse a quantity (string or integer); raises :class:`QuantityParseError` on bad input."""
    return Quantity.coerce(text)
