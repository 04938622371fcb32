"""Reading HTML form posts and collecting field errors to show next to the inputs."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar.datastructures import FormMultiDict

from app.http.problems import Problem
from app.web.render import in_language

# A service's refusal shown on a form: 409 (a rule of the data, e.g. the account number is someone else's)
# and 422 (bad fields). Anything else (403, 404: outside the caller's scope) is an error page.
FORM_REFUSALS = frozenset({409, 422})


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


def problem_errors(problem: Problem, lang: str, *, fields: Mapping[str, str], form_field: str) -> FormErrors:
    """A service's refusal as a form's errors, in the page's language: each field's message next to its
    input (``fields`` maps the API's field names to the form's inputs), other messages, and the reason of a
    refusal without field errors (a 409), at ``form_field`` (the form itself)."""
    errors = FormErrors()
    items = problem.errors or []
    for item in items:
        message = str(item.get("message_en") or item.get("message") or "") if lang == "en" \
            else str(item.get("message") or "")
        errors.add(fields.get(str(item.get("column")), form_field), "form.problem", message=message)
    if not items:
        errors.add(form_field, "form.problem", message=in_language(str(problem.detail), lang))
    return errors


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
