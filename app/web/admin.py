"""Administration pages: staff users with role and scope, bank API keys."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Controller, Request, Response, get, post
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.guards import current_principal, requires
from app.auth.models import STAFF_ROLES, BankApiKey, Role, StaffUser
from app.http.problems import Problem, bilingual
from app.registry.models import Bank, Commune, Province
from app.web.forms import FormErrors, fold, form_list, form_text, split_codes
from app.web.home import commune_names, province_names
from app.web.render import page, see_other

log = structlog.get_logger()

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 8
COMMUNE_LOOKUP_LIMIT = 20


def _actor(request: Request[Any, Any, Any]) -> str:
    principal = current_principal(request)
    return principal.name if principal else "system"


async def _users_page(request: Request[Any, Any, Any], session: AsyncSession, *, status_code: int = 200,
                      errors: FormErrors | None = None, values: dict[str, Any] | None = None) -> Response[Any]:
    users = (await session.scalars(select(StaffUser).order_by(StaffUser.username))).all()
    scope_provinces = await province_names(session, (code for u in users for code in u.provinces or ()))
    scope_communes = await commune_names(session, (code for u in users for code in u.communes or ()))
    all_provinces = (await session.execute(select(Province.code, Province.name).order_by(Province.code))).all()
    created = request.query_params.get("created")
    return page(
        request, "admin/users.html", status_code=status_code,
        users=users,
        province_names=scope_provinces,
        commune_names=scope_communes,
        all_provinces=all_provinces,
        roles=[role.value for role in STAFF_ROLES],
        created=created if created and any(u.username == created for u in users) else None,
        errors=errors or FormErrors(),
        values=values or {"username": "", "full_name": "", "role": "", "provinces": [], "communes": ""},
    )


async def _validate_user(session: AsyncSession, values: dict[str, Any], password: str) -> FormErrors:
    errors = FormErrors()
    username = values["username"]
    if not USERNAME_PATTERN.match(username):
        errors.add("username", "users.error.username")
    elif await session.scalar(select(StaffUser.id).where(func.lower(StaffUser.username) == username.lower())):
        errors.add("username", "users.error.username_taken", username=username)
    if len(password) < MIN_PASSWORD:
        errors.add("password", "users.error.password")
    if values["role"] not in {role.value for role in STAFF_ROLES}:
        errors.add("role", "users.error.role")
    provinces: list[str] = values["provinces"]
    if provinces:
        known = await province_names(session, provinces)
        unknown = [code for code in provinces if code not in known]
        if unknown:
            errors.add("provinces", "users.error.unknown_provinces", codes=", ".join(unknown))
    communes = split_codes(values["communes"])
    if values["role"] == Role.commune_staff.value and not communes:
        errors.add("communes", "users.error.communes_required")
    if communes:
        known_communes = await commune_names(session, communes)
        unknown = [code for code in communes if code not in known_communes]
        if unknown:
            errors.add("communes", "users.error.unknown_communes", codes=", ".join(unknown))
    return errors


async def _api_keys_page(request: Request[Any, Any, Any], session: AsyncSession, *, status_code: int = 200,
                         errors: FormErrors | None = None, values: dict[str, str] | None = None,
                         new_key: str | None = None, new_key_bank: str | None = None) -> Response[Any]:
    keys = (await session.execute(
        select(BankApiKey, Bank.short_name).join(Bank, Bank.bin == BankApiKey.bank_bin)
        .order_by(BankApiKey.created_at.desc(), BankApiKey.id.desc())
    )).all()
    banks = (await session.execute(select(Bank.bin, Bank.short_name, Bank.name).order_by(Bank.short_name))).all()
    revoked = request.query_params.get("revoked")
    revoked_ok = revoked if revoked and any(k.prefix == revoked and k.revoked_at for k, _ in keys) else None
    return page(
        request, "admin/api_keys.html", status_code=status_code,
        keys=keys, banks=banks, revoked=revoked_ok,
        errors=errors or FormErrors(), values=values or {"bank_bin": "", "label": ""},
        new_key=new_key, new_key_bank=new_key_bank,
    )


class AdminPages(Controller):
    path = "/admin"
    guards = [requires(Role.admin)]
    include_in_schema = False

    @get("/users")
    async def users(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """All staff users with role and scope, and the form to create one."""
        return await _users_page(request, db_session)

    @post("/users")
    async def create_user(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Create a staff user; on errors the form comes back with every problem marked."""
        form = await request.form()
        values: dict[str, Any] = {
            "username": form_text(form, "username").lower(),
            "full_name": form_text(form, "full_name"),
            "role": form_text(form, "role"),
            "provinces": form_list(form, "provinces"),
            "communes": form_text(form, "communes"),
        }
        password = form_text(form, "password", strip=False)
        errors = await _validate_user(db_session, values, password)
        if not errors:
            try:
                await service.create_user(
                    db_session, username=values["username"], password=password, role=Role(values["role"]),
                    provinces=values["provinces"], communes=split_codes(values["communes"]),
                    full_name=values["full_name"], actor=_actor(request),
                )
            except service.ScopeError as exc:  # a rule the form check above does not know yet
                errors.add("username", "users.error.service", message=str(exc))
        if errors:
            return await _users_page(request, db_session, status_code=422, errors=errors, values=values)
        log.info("user_created_from_page", username=values["username"], role=values["role"])
        return see_other(f"/admin/users?created={values['username']}")

    @get("/communes.json")
    async def commune_lookup(self, db_session: AsyncSession, q: str = "", codes: str = "") -> dict[str, Any]:
        """Communes by code list (``codes=00070,00073``) or by name or code fragment (``q=hoan kiem``)."""
        query = (select(Commune.code, Commune.name, Province.name.label("province"))
                 .join(Province, Province.code == Commune.province_code))
        if codes:
            wanted = split_codes(codes)[:100]
            rows = (await db_session.execute(query.where(Commune.code.in_(wanted)))).all()
            found = {row.code: row for row in rows}
            return {"items": [{"code": code, "name": found[code].name, "province": found[code].province}
                              if code in found else {"code": code, "name": None, "province": None}
                              for code in wanted]}
        term = fold(q.strip())
        if len(term) < 2:
            return {"items": []}
        if term.isdigit():
            rows = (await db_session.execute(
                query.where(Commune.code.startswith(term)).order_by(Commune.code).limit(COMMUNE_LOOKUP_LIMIT)
            )).all()
        else:
            # Accent-insensitive: fold names in Python (a few thousand short rows).
            rows = [row for row in (await db_session.execute(query.order_by(Commune.code))).all()
                    if term in fold(row.name)][:COMMUNE_LOOKUP_LIMIT]
        return {"items": [{"code": row.code, "name": row.name, "province": row.province} for row in rows]}

    @get("/api-keys")
    async def api_keys(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Bank API keys (never the keys themselves) and the form to issue one."""
        return await _api_keys_page(request, db_session)

    @post("/api-keys")
    async def create_api_key(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Issue a key for one bank and show it once."""
        form = await request.form()
        values = {"bank_bin": form_text(form, "bank_bin"), "label": form_text(form, "label")}
        errors = FormErrors()
        bank = await db_session.get(Bank, values["bank_bin"]) if values["bank_bin"] else None
        if bank is None:
            errors.add("bank_bin", "keys.error.bank")
            return await _api_keys_page(request, db_session, status_code=422, errors=errors, values=values)
        key = await service.create_api_key(db_session, bank_bin=bank.bin, label=values["label"],
                                           actor=_actor(request))
        return await _api_keys_page(request, db_session, new_key=key, new_key_bank=bank.short_name)

    @post("/api-keys/{prefix:str}/revoke")
    async def revoke_api_key(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                             prefix: str) -> Response[Any]:
        """Revoke a key; the bank's next call with it gets 401."""
        if not await service.revoke_api_key(db_session, prefix=prefix, actor=_actor(request)):
            raise Problem(404, bilingual("Không có khóa đang hoạt động với tiền tố này",
                                         "No active key with this prefix"))
        return see_other(f"/admin/api-keys?revoked={prefix}")
