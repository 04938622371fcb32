"""Errors on pages: 401 sends the browser to sign in, other errors render a friendly page.

The JSON API (everything under /api) keeps its problem+json answers unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.auth.guards import CsrfRejected
from app.auth.middleware import SESSION_COOKIE
from app.auth.routes import cleared_session_cookies
from app.http import problems
from app.web.i18n import LANG_QUERY, normalise_lang
from app.web.render import is_page_request, page, path_with_query, safe_next, see_other

log = structlog.get_logger()

LOGIN_PATH = "/login"


def _same_site_referer(request: Request[Any, Any, Any]) -> str | None:
    """The page the form was on (same host only), to go back to."""
    referer = urlsplit(request.headers.get("referer") or "")
    if not referer.path or (referer.netloc and referer.netloc != request.headers.get("host")):
        return None
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


def _return_path(request: Request[Any, Any, Any]) -> str:
    """Where to come back after signing in: this page for GET, the page the form was on otherwise."""
    if request.method in {"GET", "HEAD"}:
        return path_with_query(request)
    return _same_site_referer(request) or "/"


def sign_in_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """303 to the sign-in page, remembering where the browser was going."""
    target = f"{LOGIN_PATH}?next={quote(safe_next(_return_path(request)), safe='')}"
    lang = normalise_lang(request.query_params.get(LANG_QUERY))
    if lang:  # a language chosen in the link carries over to the sign-in page
        target += f"&{LANG_QUERY}={lang}"
    if request.cookies.get(SESSION_COOKIE):
        # The browser holds a session the server no longer accepts: expired or signed out elsewhere.
        return see_other(f"{target}&expired=1", cookies=cleared_session_cookies())
    return see_other(target)


def error_page(request: Request[Any, Any, Any], status: int, *, title_key: str, body_key: str | None = None,
               detail: str | None = None, errors: list[dict[str, Any]] | None = None) -> Response[Any]:
    """The friendly error page, in the page's language: what was wrong field by field, and the way back to
    the form a POST came from."""
    back = _same_site_referer(request) if request.method not in {"GET", "HEAD"} else None
    return page(request, "error.html", status_code=status, status=status, title_key=title_key,
                body_key=body_key, detail=detail, errors=errors or [], back=back)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """HTTP errors: problem+json for the API, a redirect or an error page for pages."""
    if not is_page_request(request):
        return problems.handle_http_exception(request, exc)
    status = exc.status_code
    if status == 401:
        return sign_in_redirect(request)
    if isinstance(exc, ValidationException):  # a query value of the wrong kind (?min_days=abc): say which
        return error_page(request, 400, title_key="error.invalid.title", body_key="error.invalid.body",
                          errors=problems.validation_errors(exc))
    if isinstance(exc, CsrfRejected):
        return error_page(request, 403, title_key="error.csrf.title", body_key="error.csrf.body")
    if status == 403:  # a role guard's refusal, or a Problem saying which scope the page is outside of
        return error_page(request, 403, title_key="error.403.title", body_key="error.403.body",
                          detail=exc.detail if isinstance(exc, problems.Problem) else None)
    if status == 404:
        return error_page(request, 404, title_key="error.404.title", body_key="error.404.body")
    return error_page(request, status, title_key="error.generic.title", detail=exc.detail,
                      errors=exc.errors if isinstance(exc, problems.Problem) else None)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Unexpected failures: logged once; problem+json for the API, an error page for pages."""
    if not is_page_request(request):
        return problems.handle_unexpected(request, exc)
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, title_key="error.500.title",
                      body_key="error.500.body")


EXCEPTION_HANDLERS = {HTTPException: handle_http_exception, Exception: handle_unexpected}
