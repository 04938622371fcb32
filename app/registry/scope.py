"""Who sees which beneficiaries: commune staff their communes, province officers their provinces."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, select

from app.auth.models import Role
from app.auth.service import Principal
from app.registry.models import Commune


def commune_scope_condition(principal: Principal | None, commune_column: Any) -> ColumnElement[bool] | None:
    """SQL condition limiting ``commune_column`` to the caller's scope; None when the caller sees everything."""
    if principal is None:
        return None
    if principal.role == Role.commune_staff:
        return commune_column.in_(principal.communes) if principal.communes else false()
    if principal.provinces:
        return commune_column.in_(select(Commune.code).where(Commune.province_code.in_(principal.provinces)))
    return None


def masks_identifiers(principal: Principal | None) -> bool:
    """Commune staff see citizen IDs and account numbers masked to the last 4 digits."""
    return principal is not None and principal.role == Role.commune_staff


def commune_in_scope(principal: Principal | None, commune_code: str, province_code: str | None) -> bool:
    """Whether a commune (with its province) is inside the caller's scope."""
    if principal is None:
        return True
    if principal.role == Role.commune_staff:
        return commune_code in principal.communes
    if principal.provinces:
        return province_code in principal.provinces
    return True
