"""Administration pages: staff users with role and scope, bank API keys."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

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
from app.web.render import current_lang, page, see_other
from app.web.templating import local_time

log = structlog.get_logger()

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 8
COMMUNE_LOOKUP_LIMIT = 20


def _actor(request: Request[Any, Any, Any]) -> str:
    principal = current_principal(request)
    return principal.name if principal else "system"


def _refusal(request: Request[Any, Any, Any], exc: service.ScopeError) -> str:
    """The service's reason in the page's language: Vietnamese, English with ``?lang=en`` (its ``str`` is the
    command line's English)."""
    return exc.en if current_lang(request) == "en" else exc.vi


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
    errors.items.extend((await _validate_scope(session, values)).items)
    return errors


async def _validate_scope(session: AsyncSession, values: dict[str, Any]) -> FormErrors:
    """The role, provinces and communes of a user form (creating or changing a user)."""
    errors = FormErrors()
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


DONE_KEYS = {"updated": "user.done.updated", "deactivated": "user.done.deactivated",
             "reactivated": "user.done.reactivated", "password_set": "user.done.password_set",
             "unchanged": "user.done.unchanged"}


async def _user_page(request: Request[Any, Any, Any], session: AsyncSession, user_id: int, *,
                     status_code: int = 200, errors: FormErrors | None = None,
                     values: dict[str, Any] | None = None, new_password: str | None = None,
                     sessions_ended: int | None = None) -> Response[Any]:
    user = await session.get(StaffUser, user_id, populate_existing=True)
    if user is None:
        raise Problem(404, bilingual("Không có người dùng này", "no such user"))
    principal = current_principal(request)
    done = request.query_params.get("done")
    ended = request.query_params.get("sessions")
    all_provinces = (await session.execute(select(Province.code, Province.name).order_by(Province.code))).all()
    return page(
        request, "admin/user.html", status_code=status_code,
        user=user, is_self=principal is not None and principal.user_id == user.id,
        province_names=await province_names(session, user.provinces or ()),
        commune_names=await commune_names(session, user.communes or ()),
        all_provinces=all_provinces, roles=[role.value for role in STAFF_ROLES],
        open_sessions=await service.open_sessions(session, user.id),
        done_key=DONE_KEYS.get(done or ""),
        sessions_ended=sessions_ended if sessions_ended is not None else (
            int(ended) if ended and ended.isdigit() else 0),
        new_password=new_password,
        audit_object_url="/audit?" + urlencode({"object_type": "staff_user", "object_id": str(user.id)}),
        audit_actor_url="/audit?" + urlencode({"actor": user.username}),
        errors=errors or FormErrors(),
        values=values or {"full_name": user.full_name, "role": user.role, "provinces": list(user.provinces or []),
                          "communes": ", ".join(user.communes or [])},
    )


async def _api_keys_page(request: Request[Any, Any, Any], session: AsyncSession, *, status_code: int = 200,
                         errors: FormErrors | None = None, values: dict[str, str] | None = None) -> Response[Any]:
    keys = (await session.execute(
        select(BankApiKey, Bank.short_name).join(Bank, Bank.bin == BankApiKey.bank_bin)
        .order_by(BankApiKey.created_at.desc(), BankApiKey.id.desc())
    )).all()
    banks = (await session.execute(select(Bank.bin, Bank.short_name, Bank.name).order_by(Bank.short_name))).all()
    revoked = request.query_params.get("revoked")
    revoked_ok = revoked if revoked and any(k.prefix == revoked and k.revoked_at for k, _ in keys) else None
    # A key just issued: shown on this one answer (the redirect after the form), then gone for good.
    issued = request.query_params.get("issued")
    new_key = new_key_bank = None
    if issued:
        principal = current_principal(request)
        assert principal is not None and principal.session_id is not None  # admin pages: a staff session
        revealed = await service.open_api_key_reveal(session, token=issued, session_id=principal.session_id)
        if revealed is not None:
            new_key, bin_ = revealed
            new_key_bank = next((short_name for bank_bin, short_name, _ in banks if bank_bin == bin_), bin_)
    return page(
        request, "admin/api_keys.html", status_code=status_code,
        keys=keys, banks=banks, revoked=revoked_ok,
        errors=errors or FormErrors(), values=values or {"bank_bin": "", "label": ""},
        new_key=new_key, new_key_bank=new_key_bank, key_shown_before=bool(issued) and new_key is None,
        headers={"Cache-Control": "no-store"} if issued else None,
    )


async def _set_active(request: Request[Any, Any, Any], session: AsyncSession, user_id: int, *,
                      active: bool) -> Response[Any]:
    principal = current_principal(request)
    assert principal is not None
    try:
        _, ended = await service.set_user_active(session, user_id=user_id, active=active, actor=principal.name,
                                                 actor_id=principal.user_id, actor_role=principal.role.value)
    except service.UserNotFound:
        raise Problem(404, bilingual("Không có người dùng này", "no such user")) from None
    except service.UserChangeRefused:
        errors = FormErrors()
        errors.add("deactivate", "user.error.own_account")
        return await _user_page(request, session, user_id, status_code=409, errors=errors)
    done = "reactivated" if active else "deactivated"
    return see_other(f"/admin/users/{user_id}?done={done}&sessions={ended}")


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
            except service.ScopeError as exc:  # a rule the form check above does not know yet, or a race
                errors.add("username", "users.error.service", message=_refusal(request, exc))
        if errors:
            return await _users_page(request, db_session, status_code=422, errors=errors, values=values)
        log.info("user_created_from_page", username=values["username"], role=values["role"])
        return see_other(f"/admin/users?created={values['username']}")

    @get("/users/{user_id:int}")
    async def user(self, request: Request[Any, Any, Any], db_session: AsyncSession, user_id: int) -> Response[Any]:
        """One user: role, scope and state, with forms to change the role and scope, set a password, and
        deactivate or reactivate the account."""
        return await _user_page(request, db_session, user_id)

    @post("/users/{user_id:int}")
    async def update_user(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                          user_id: int) -> Response[Any]:
        """Change the user's role, provinces, communes and name; errors come back on the form."""
        form = await request.form()
        values: dict[str, Any] = {"full_name": form_text(form, "full_name"), "role": form_text(form, "role"),
                                  "provinces": form_list(form, "provinces"), "communes": form_text(form, "communes")}
        errors = await _validate_scope(db_session, values)
        principal = current_principal(request)
        assert principal is not None
        if not errors:
            try:
                _, changed = await service.update_user(
                    db_session, user_id=user_id, role=Role(values["role"]), provinces=values["provinces"],
                    communes=split_codes(values["communes"]), full_name=values["full_name"],
                    actor=principal.name, actor_id=principal.user_id, actor_role=principal.role.value)
            except service.UserNotFound:
                raise Problem(404, bilingual("Không có người dùng này", "no such user")) from None
            except service.UserChangeRefused:
                errors.add("role", "user.error.own_role")
            except service.ScopeError as exc:  # a code removed since the form was checked, for instance
                errors.add("role", "user.error.service", message=_refusal(request, exc))
            else:
                done = "updated" if changed else "unchanged"
                return see_other(f"/admin/users/{user_id}?done={done}")
        return await _user_page(request, db_session, user_id, status_code=422, errors=errors, values=values)

    @post("/users/{user_id:int}/password")
    async def reset_password(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                             user_id: int) -> Response[Any]:
        """Set the password the admin typed, or make a temporary one and show it this once; the user's open
        sessions end."""
        form = await request.form()
        password = form_text(form, "password", strip=False)
        principal = current_principal(request)
        assert principal is not None
        if password and len(password) < MIN_PASSWORD:
            errors = FormErrors()
            errors.add("password", "users.error.password")
            return await _user_page(request, db_session, user_id, status_code=422, errors=errors)
        try:
            unchanged_since = datetime.fromisoformat(form_text(form, "version")) if form_text(form, "version") \
                else None
        except ValueError:
            unchanged_since = None
        try:
            _, made, ended = await service.reset_password(
                db_session, user_id=user_id, password=password or None, actor=principal.name,
                actor_role=principal.role.value, keep_session_id=principal.session_id,
                unchanged_since=unchanged_since)
        except service.UserNotFound:
            raise Problem(404, bilingual("Không có người dùng này", "no such user")) from None
        except service.UserChangedSince as changed:  # the reset sent again (a reload): not a second password
            errors = FormErrors()
            errors.add("password", "user.error.changed_since", at=local_time(changed.at))
            return await _user_page(request, db_session, user_id, status_code=409, errors=errors)
        if made is not None:  # shown once, on this answer only (never in a URL), and never kept by the browser
            response = await _user_page(request, db_session, user_id, new_password=made, sessions_ended=ended)
            response.headers["Cache-Control"] = "no-store"
            return response
        return see_other(f"/admin/users/{user_id}?done=password_set&sessions={ended}")

    @post("/users/{user_id:int}/deactivate")
    async def deactivate_user(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                              user_id: int) -> Response[Any]:
        """Deactivate: sign-in refused, open sessions ended; never the admin's own account."""
        return await _set_active(request, db_session, user_id, active=False)

    @post("/users/{user_id:int}/reactivate")
    async def reactivate_user(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                              user_id: int) -> Response[Any]:
        """Reactivate: the user may sign in again."""
        return await _set_active(request, db_session, user_id, active=True)

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
        """Issue a key for one bank, then send the admin to the keys page, which shows it once (POST, redirect,
        GET: reloading that page issues nothing and no longer shows the key)."""
        form = await request.form()
        values = {"bank_bin": form_text(form, "bank_bin"), "label": form_text(form, "label")}
        errors = FormErrors()
        bank = await db_session.get(Bank, values["bank_bin"]) if values["bank_bin"] else None
        if bank is None:
            errors.add("bank_bin", "keys.error.bank")
            return await _api_keys_page(request, db_session, status_code=422, errors=errors, values=values)
        key = await service.create_api_key(db_session, bank_bin=bank.bin, label=values["label"],
                                           actor=_actor(request))
        principal = current_principal(request)
        assert principal is not None and principal.session_id is not None  # admin pages: a staff session
        token = await service.seal_api_key_reveal(db_session, key=key, session_id=principal.session_id)
        return see_other(f"/admin/api-keys?{urlencode({'issued': token})}")

    @post("/api-keys/{prefix:str}/revoke")
    async def revoke_api_key(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                             prefix: str) -> Response[Any]:
        """Revoke a key; the bank's next call with it gets 401."""
        if not await service.revoke_api_key(db_session, prefix=prefix, actor=_actor(request)):
            raise Problem(404, bilingual("Không có khóa đang hoạt động với tiền tố này",
                                         "No active key with this prefix"))
        return see_other(f"/admin/api-keys?revoked={prefix}")
