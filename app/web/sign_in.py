"""The sign-in page (public) and sign-out, with the same sessions and rate limit as the API."""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service
from app.auth.guards import CSRF_FORM_FIELD, STAFF, current_principal, requires
from app.auth.routes import cleared_session_cookies, session_cookies
from app.database import session_scope
from app.settings import Settings
from app.web.forms import form_text
from app.web.render import page, safe_next, see_other

log = structlog.get_logger()

# The sign-in form has no session yet: its CSRF token is a random value in a cookie that the
# form must echo (double submit), so another site cannot sign a browser into an account.
LOGIN_CSRF_COOKIE = "ansinh_login_csrf"
LOGIN_CSRF_SECONDS = 2 * 3600


def _login_csrf_cookie(token: str, settings: Settings) -> Cookie:
    return Cookie(key=LOGIN_CSRF_COOKIE, value=token, max_age=LOGIN_CSRF_SECONDS, path="/login",
                  httponly=True, samesite="strict", secure=settings.production)


def _client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def _login_page(request: Request[Any, Any, Any], *, next_path: str, username: str = "",
                notice_key: str | None = None, error_key: str | None = None,
                error_params: dict[str, Any] | None = None, status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response[Any]:
    settings: Settings = request.app.state.settings
    token = secrets.token_urlsafe(24)
    return page(request, "login.html", status_code=status_code, headers=headers,
                cookies=[_login_csrf_cookie(token, settings)], form_csrf=token, next_path=next_path,
                username=username, notice_key=notice_key, error_key=error_key, error_params=error_params or {})


class SignInPages(Controller):
    include_in_schema = False

    @get("/login", opt={"public": True})
    async def login_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The sign-in form; a signed-in staff member goes straight on."""
        next_path = safe_next(request.query_params.get("next"))
        principal = current_principal(request)
        if principal is not None and principal.kind == "staff":
            return see_other(next_path)
        notice_key = None
        if request.query_params.get("expired"):
            notice_key = "login.session_expired"
        elif request.query_params.get("signed_out"):
            notice_key = "login.signed_out"
        elif next_path != "/":
            notice_key = "login.required"
        return _login_page(request, next_path=next_path, notice_key=notice_key)

    @post("/login", opt={"public": True})
    async def login_submit(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Check the form, sign in through the same service as the API and go to ``next``."""
        settings: Settings = request.app.state.settings
        form = await request.form()
        username = form_text(form, "username")
        password = form_text(form, "password", strip=False)
        next_path = safe_next(form_text(form, "next"))
        expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        sent = form_text(form, CSRF_FORM_FIELD)
        if not expected or not sent or not secrets.compare_digest(expected.encode(), sent.encode()):
            log.info("login_form_csrf_rejected")
            return _login_page(request, next_path=next_path, username=username,
                               error_key="login.form_expired", status_code=403)
        # Own transaction: a refused attempt must be recorded even though the answer is an error.
        async with session_scope(request.app.state.engine) as session:
            try:
                token, staff_session, _user = await service.login(
                    session,
                    username=username,
                    password=password,
                    ip=_client_ip(request),
                    session_hours=settings.session_hours,
                    max_failures=settings.login_max_failures,
                    window_minutes=settings.login_window_minutes,
                )
            except service.RateLimited as exc:
                failure: tuple[int, str, dict[str, Any]] | None = (
                    429, "login.rate_limited", {"minutes": max(1, exc.retry_after // 60)})
                retry_after = str(exc.retry_after)
            except service.AuthError:
                failure, retry_after = (401, "login.failed", {}), ""
            else:
                failure, retry_after = None, ""
        if failure is not None:
            status, key, params = failure
            return _login_page(request, next_path=next_path, username=username, error_key=key,
                               error_params=params, status_code=status,
                               headers={"Retry-After": retry_after} if retry_after else None)
        cookies = [*session_cookies(settings, token, staff_session.csrf_token),
                   Cookie(key=LOGIN_CSRF_COOKIE, value="", max_age=0, path="/login")]
        return see_other(next_path, cookies=cookies)

    @post("/logout", guards=[requires(*STAFF)])
    async def logout(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """End the session and return to the sign-in page."""
        principal = current_principal(request)
        assert principal is not None and principal.session_id is not None
        await service.logout(db_session, principal.session_id)
        return see_other("/login?signed_out=1", cookies=cleared_session_cookies())
