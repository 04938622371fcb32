"""The home page: who is signed in, their scope by name, and the pages their role may open."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Controller, Request, Response, get
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import STAFF, current_principal, requires
from app.registry.models import Commune, Province
from app.web.menu import menu_for
from app.web.render import page


async def province_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """Province code → name for the given codes."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.execute(select(Province.code, Province.name).where(Province.code.in_(wanted)))
    return {code: name for code, name in rows.all()}


async def commune_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Commune code → (commune name, province name) for the given codes."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Commune.code, Commune.name, Province.name)
        .join(Province, Province.code == Commune.province_code)
        .where(Commune.code.in_(wanted))
    )
    return {code: (name, province) for code, name, province in rows.all()}


class HomePage(Controller):
    include_in_schema = False

    @get("/", guards=[requires(*STAFF)])
    async def home(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Who you are, your scope and your links (the dashboard will take this place)."""
        principal = current_principal(request)
        assert principal is not None
        provinces = await province_names(db_session, principal.provinces)
        communes = await commune_names(db_session, principal.communes)
        links = [item for item in menu_for(principal.role) if item.path != "/"]
        return page(
            request, "home.html",
            provinces=[(code, provinces.get(code, code)) for code in principal.provinces],
            communes=[(code, *communes.get(code, (code, ""))) for code in principal.communes],
            links=links,
        )
