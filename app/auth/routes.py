"""Sign-in for staff; user and bank API key administration."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import Cookie
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.guards import STAFF, current_principal, requires
from app.auth.middleware import CSRF_COOKIE, SESSION_COOKIE
from app.auth.models import BankApiKey, Role, StaffUser
from app.auth.schemas import (
    ApiKeyCreated,
    ApiKeyInput,
    ApiKeyOutput,
    LoginInput,
    LoginOutput,
    PasswordReset,
    PasswordResetOutput,
    UserInput,
    UserOutput,
    UserUpdate,
)
from app.database import session_scope
from app.http.problems import Problem, bilingual
from app.settings import Settings


def _client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def session_cookies(settings: Settings, token: str, csrf_token: str) -> list[Cookie]:
    """The cookies a successful sign-in sets (API and sign-in page alike)."""
    secure = settings.production
    max_age = settings.session_hours * 3600
    return [
        Cookie(key=SESSION_COOKIE, value=token, httponly=True, samesite="lax", secure=secure,
               max_age=max_age, path="/"),
        Cookie(key=CSRF_COOKIE, value=csrf_token, httponly=False, samesite="lax",
               secure=secure, max_age=max_age, path="/"),
    ]


def cleared_session_cookies() -> list[Cookie]:
    """Cookies that remove the session from the browser on sign-out."""
    return [Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/"),
            Cookie(key=CSRF_COOKIE, value="", max_age=0, path="/")]


class AuthController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/login", opt={"public": True, "problems": (401, 429)}, status_code=200)
    async def login(self, request: Request[Any, Any, Any], data: LoginInput) -> Response[LoginOutput]:
        """Sign in with username and password; sets the session cookie."""
        settings: Settings = request.app.state.settings
        # Own transaction: a refused attempt must be recorded even though the response is an error.
        async with session_scope(request.app.state.engine) as session:
            try:
                token, staff_session, user = await service.login(
                    session,
                    username=data.username,
                    password=data.password,
                    ip=_client_ip(request),
                    session_hours=settings.session_hours,
                    max_failures=settings.login_max_failures,
                    window_minutes=settings.login_window_minutes,
                )
            except service.RateLimited as exc:
                raise Problem(
                    429,
                    bilingual("Đăng nhập sai quá nhiều lần, hãy thử lại sau",
                              "Too many failed sign-ins; try again later"),
                    headers={"Retry-After": str(exc.retry_after)},
                ) from None
            except service.AuthError:
                failed = True
            else:
                failed = False
        if failed:
            raise Problem(401, bilingual("Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password"))
        return Response(
            LoginOutput(
                username=user.username,
                role=user.role,
                csrf_token=staff_session.csrf_token,
                expires_at=staff_session.expires_at,
                provinces=list(user.provinces),
                communes=list(user.communes),
            ),
            cookies=session_cookies(settings, token, staff_session.csrf_token),
        )

    @post("/logout", guards=[requires(*STAFF)], status_code=200)
    async def logout(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[dict[str, str]]:
        """End the current session."""
        principal = current_principal(request)
        assert principal is not None and principal.session_id is not None
        await service.logout(db_session, principal.session_id)
        return Response(
            {"status": "signed_out"},
            cookies=cleared_session_cookies(),
        )

    @get("/me", guards=[requires(*STAFF, Role.bank)])
    async def me(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Who the caller is, with role and scope."""
        principal = current_principal(request)
        assert principal is not None
        return {
            "name": principal.name,
            "kind": principal.kind,
            "role": principal.role.value,
            "bank_bin": principal.bank_bin,
            "provinces": list(principal.provinces),
            "communes": list(principal.communes),
            "csrf_token": principal.csrf_token,
        }


def _user_output(user: StaffUser) -> UserOutput:
    return UserOutput(id=user.id, username=user.username, full_name=user.full_name, role=user.role,
                      provinces=list(user.provinces), communes=list(user.communes), is_active=user.is_active)


def _key_output(key: BankApiKey) -> ApiKeyOutput:
    return ApiKeyOutput(id=key.id, prefix=key.prefix, bank_bin=key.bank_bin, label=key.label,
                        created_at=key.created_at, revoked_at=key.revoked_at, last_used_at=key.last_used_at)


USER_NOT_FOUND = ("Không có người dùng này", "no such user")


def _admin(request: Request[Any, Any, Any]) -> service.Principal:
    principal = current_principal(request)
    assert principal is not None  # the guard ran
    return principal


async def _set_active(request: Request[Any, Any, Any], session: AsyncSession, user_id: int, *,
                      active: bool) -> UserOutput:
    principal = _admin(request)
    try:
        user, _ = await service.set_user_active(session, user_id=user_id, active=active, actor=principal.name,
                                                actor_id=principal.user_id, actor_role=principal.role.value)
    except service.UserNotFound:
        raise Problem(404, bilingual(*USER_NOT_FOUND)) from None
    except service.UserChangeRefused as exc:
        raise Problem(409, bilingual(exc.vi, exc.en)) from None
    return _user_output(user)


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [requires(Role.admin)]

    @get("/users")
    async def list_users(self, db_session: AsyncSession) -> list[UserOutput]:
        """All staff users with roles and scopes."""
        users = (await db_session.scalars(select(StaffUser).order_by(StaffUser.username))).all()
        return [_user_output(u) for u in users]

    @post("/users")
    async def create_user(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                          data: UserInput) -> UserOutput:
        """Create a staff user with a role and scope."""
        principal = current_principal(request)
        try:
            role = Role(data.role)
            user = await service.create_user(
                db_session, username=data.username, password=data.password, role=role,
                provinces=data.provinces, communes=data.communes, full_name=data.full_name,
                actor=principal.name if principal else "system",
            )
        except service.ScopeError as exc:
            raise Problem(422, bilingual(exc.vi, exc.en)) from None
        except ValueError as exc:  # not a role
            raise Problem(422, bilingual(f"Vai trò không hợp lệ: {data.role}", str(exc))) from None
        return _user_output(user)

    @get("/users/{user_id:int}")
    async def get_user(self, db_session: AsyncSession, user_id: int) -> UserOutput:
        """One staff user with role, scope and whether they may sign in."""
        user = await db_session.get(StaffUser, user_id)
        if user is None:
            raise Problem(404, bilingual(*USER_NOT_FOUND))
        return _user_output(user)

    @patch("/users/{user_id:int}")
    async def update_user(self, request: Request[Any, Any, Any], db_session: AsyncSession, user_id: int,
                          data: UserUpdate) -> UserOutput:
        """Change a user's role, provinces, communes or name (fields left out keep their value); checked as at
        creation (commune staff need a commune), audited ``user.update``. An admin cannot change their own role
        (409)."""
        principal = _admin(request)
        user = await db_session.get(StaffUser, user_id)
        if user is None:
            raise Problem(404, bilingual(*USER_NOT_FOUND))
        try:
            role = Role(data.role if data.role is not None else user.role)
        except ValueError:
            raise Problem(422, bilingual(f"Vai trò không hợp lệ: {data.role}", f"unknown role: {data.role}")) from None
        try:
            updated, _ = await service.update_user(
                db_session, user_id=user_id, role=role,
                provinces=data.provinces if data.provinces is not None else list(user.provinces or []),
                communes=data.communes if data.communes is not None else list(user.communes or []),
                full_name=data.full_name, actor=principal.name, actor_id=principal.user_id,
                actor_role=principal.role.value)
        except service.UserChangeRefused as exc:
            raise Problem(409, bilingual(exc.vi, exc.en)) from None
        except service.ScopeError as exc:
            raise Problem(422, bilingual(exc.vi, exc.en)) from None
        return _user_output(updated)

    @post("/users/{user_id:int}/deactivate", status_code=200)
    async def deactivate_user(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                              user_id: int) -> UserOutput:
        """The user can no longer sign in and their open sessions end at once (audited ``user.deactivate``);
        an admin cannot deactivate themselves (409)."""
        return await _set_active(request, db_session, user_id, active=False)

    @post("/users/{user_id:int}/reactivate", status_code=200)
    async def reactivate_user(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                              user_id: int) -> UserOutput:
        """The user may sign in again (audited ``user.reactivate``); sessions ended before stay ended."""
        return await _set_active(request, db_session, user_id, active=True)

    @post("/users/{user_id:int}/password", status_code=200)
    async def reset_password(self, request: Request[Any, Any, Any], db_session: AsyncSession, user_id: int,
                             data: PasswordReset | None = None) -> PasswordResetOutput:
        """Set the user's password, or without one make a temporary one (returned this once); the user's open
        sessions end. Audited ``user.password_reset`` (never the password)."""
        principal = _admin(request)
        try:
            user, made, ended = await service.reset_password(
                db_session, user_id=user_id, password=data.password if data is not None else None,
                actor=principal.name, actor_role=principal.role.value, keep_session_id=principal.session_id)
        except service.UserNotFound:
            raise Problem(404, bilingual(*USER_NOT_FOUND)) from None
        except service.ScopeError as exc:
            raise Problem(422, bilingual(exc.vi, exc.en)) from None
        return PasswordResetOutput(username=user.username, password=made, sessions_ended=ended)

    @get("/api-keys")
    async def list_api_keys(self, db_session: AsyncSession) -> list[ApiKeyOutput]:
        """Bank API keys (never the keys themselves)."""
        keys = (await db_session.scalars(select(BankApiKey).order_by(BankApiKey.created_at.desc()))).all()
        return [_key_output(k) for k in keys]

    @post("/api-keys")
    async def create_api_key(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                             data: ApiKeyInput) -> ApiKeyCreated:
        """Create a key bound to one bank; the key is shown only in this response."""
        principal = current_principal(request)
        try:
            key = await service.create_api_key(db_session, bank_bin=data.bank_bin, label=data.label,
                                               actor=principal.name if principal else "system")
        except service.ScopeError as exc:
            raise Problem(422, bilingual(exc.vi, exc.en)) from None
        return ApiKeyCreated(key=key, prefix=key.split("_")[1], bank_bin=data.bank_bin)

    @post("/api-keys/{prefix:str}/revoke", status_code=200)
    async def revoke_api_key(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                             prefix: str) -> dict[str, str]:
        """Revoke a bank API key; later calls with it get 401."""
        principal = current_principal(request)
        if not await service.revoke_api_key(db_session, prefix=prefix,
                                            actor=principal.name if principal else "system"):
            raise Problem(404, bilingual("Không có khóa đang hoạt động với tiền tố này",
                                         "No active key with this prefix"))
        return {"status": "revoked", "prefix": prefix}
