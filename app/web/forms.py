"""Reading HTML form posts and collecting field errors to show next to the inputs."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import FormMultiDict


@dataclass(frozen=True)
class FieldError:
    """One problem with one input: the input's name and an i18n key with its parameters."""

    field: str
    key: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class FormErrors:
    """The errors of one form post, in the order found (the summary at the top lists them)."""

    items: list[FieldError] = dataclasses.field(default_factory=list)

    def add(self, field_name: str, key: str, **params: Any) -> None:
        """Record an error for ``field_name``."""
        self.items.append(FieldError(field_name, key, params))

    def for_field(self, field_name: str) -> list[FieldError]:
        """The errors of one input."""
        return [item for item in self.items if item.field == field_name]

    def __bool__(self) -> bool:
        return bool(self.items)


def form_text(form: FormMultiDict, name: str, *, strip: bool = True) -> str:
    """A text field's value ('' when absent or not text)."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip() if strip else value


def form_list(form: FormMultiDict, name: str) -> list[str]:
    """All values of a repeated field (checkboxes), stripped, without blanks or repeats."""
    values: list[str] = []
    for value in form.getall(name, []):
        if isinstance(value, str) and value.strip() and value.strip() not in values:
            values.append(value.strip())
    return values


def split_codes(text: str) -> list[str]:
    """Codes typed into one box, separated by commas, semicolons or spaces; repeats dropped."""
    codes: list[str] = []
    for code in re.split(r"[\s,;]+", text.strip()):
        if code and code not in codes:
            codes.append(code)
    return codes


def fold(text: str) -> str:
    """Lowercase without Vietnamese diacritics, so "ha noi" finds "Hà Nội"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
