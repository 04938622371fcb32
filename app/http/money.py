"""Money in JSON bodies: a JSON integer of đồng, nothing else.

Litestar converts a request body to its msgspec struct leniently (``strict=False``): an ``int`` field takes
``"1000"`` and ``1000.0`` as 1000. For money that hides a client's bug — a string, a rounded float — so
amounts are typed ``Dong``, a type msgspec does not know: Litestar hands each value to ``decode_dong``,
which takes a JSON integer only and refuses a string, a float (even 1000.0), a boolean and null. The refusal
is a 422 naming the field (``app.http.problems``). Files (CSV, xlsx) keep their own cell parsers."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

# The decoder's message; the error handler recognises money errors by it.
NOT_A_JSON_INTEGER = "money must be a JSON integer of đồng"


class Dong(int):
    """An amount in whole đồng that a JSON body gives as a JSON integer (see the module)."""

    __slots__ = ()


def is_dong(annotation: Any) -> bool:
    """Whether a field is money (for Litestar's ``type_decoders``)."""
    return annotation is Dong


def decode_dong(annotation: Any, value: Any) -> Dong:
    """A JSON integer as ``Dong``; anything else (str, float, bool, None) refused."""
    if type(value) is int:  # not bool, a subclass of int
        return Dong(value)
    raise TypeError(NOT_A_JSON_INTEGER)


TYPE_DECODERS = [(is_dong, decode_dong)]


def money_field_messages(field: str) -> tuple[str, str]:
    """(Vietnamese, English) of a money field that was not a JSON integer."""
    return (f"Trường '{field}' phải là số nguyên JSON (số đồng): không đặt trong ngoặc kép, không có phần thập phân, "
            "không phải true/false hay null",
            f"'{field}' must be a JSON integer of đồng: not a string, not a decimal number, not true/false or null")


class DongSchemaPlugin(OpenAPISchemaPlugin):
    """OpenAPI: money is an integer of đồng."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Dong

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        return Schema(type=OpenAPIType.INTEGER,
                      description="Số đồng nguyên (số nguyên JSON) / whole đồng, a JSON integer")
