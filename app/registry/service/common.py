"""Helpers shared by the registry services: errors, callers, reference look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.http.problems import Problem, bilingual
from app.registry.identity import Message, fold_accents
from app.registry.models import Bank, Commune, ProgrammeCategory
from app.registry.validation import FieldError

SYSTEM = "system"


def field_error(column: str, message: Message) -> dict[str, Any]:
    """One entry of a problem's ``errors`` list for a JSON field (no row)."""
    return {"row": None, "column": column, "message": message.vi, "message_en": message.en}


def invalid(errors: Sequence[dict[str, Any]]) -> Problem:
    """422 listing every bad field."""
    return Problem(422, bilingual("Dữ liệu không hợp lệ", "Invalid data"), errors=list(errors))


def not_found() -> Problem:
    """404 for a person that does not exist or is outside the caller's scope (same answer for both)."""
    return Problem(404, bilingual("Không tìm thấy người hưởng", "Beneficiary not found"))


class FieldCollector:
    """Runs parsers and collects every FieldError instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def parse(self, column: str, parser: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parser(*args, **kwargs)
        except FieldError as exc:
            self.errors.append(field_error(column, exc.message))
            return None

    def add(self, column: str, message: Message) -> None:
        self.errors.append(field_error(column, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise invalid(self.errors)


def actor_of(principal: Principal | None) -> tuple[str, str | None]:
    """(name, role) to record in the audit log."""
    if principal is None:
        return SYSTEM, None
    return principal.name, principal.role.value


async def find_commune(session: AsyncSession, code: str) -> Commune | None:
    """A commune by its 5-digit code."""
    return await session.get(Commune, code)


async def resolve_bank(session: AsyncSession, bin_or_name: str) -> Bank | None:
    """A bank by NAPAS BIN or by short name, case and accents ignored ("970436" or "Vietcombank")."""
    text = bin_or_name.strip()
    if not text:
        return None
    if text.isdigit():
        return await session.get(Bank, text)
    folded = fold_accents(text).replace(" ", "")
    return await session.scalar(
        select(Bank).where(or_(func.replace(func.fold_vietnamese(Bank.short_name), " ", "") == folded,
                               func.replace(func.fold_vietnamese(Bank.name), " ", "") == folded))
    )


async def find_category(session: AsyncSession, programme: str, category: str) -> ProgrammeCategory | None:
    """A category of a programme by codes."""
    return await session.get(ProgrammeCategory, (programme, category))
