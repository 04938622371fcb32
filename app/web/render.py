"""Rendering pages: the common template context, language choice, redirects and page headers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from app.auth.guards import current_principal
from app.web.i18n import DEFAULT_LANG, LANG_COOKIE, LANG_QUERY, LANGS, normalise_lang
from app.web.menu import active_item, menu_for

# Pages load nothing from elsewhere (offline intranets) and run no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
LANG_COOKIE_SECONDS = 365 * 24 * 3600
LANG_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def is_page_request(request: Request[Any, Any, Any]) -> bool:
    """True for browser pages (HTML answers); False for the JSON API under /api."""
    path = request.scope.get("path", "")
    return not (path == "/api" or path.startswith("/api/"))


def current_lang(request: Request[Any, Any, Any]) -> str:
    """The page language: ``?lang=`` if given, else the ``lang`` cookie, else Vietnamese."""
    return (normalise_lang(request.query_params.get(LANG_QUERY))
            or normalise_lang(request.cookies.get(LANG_COOKIE))
            or DEFAULT_LANG)


def in_language(bilingual_text: str, lang: str) -> str:
    """The Vietnamese or the English half of a "vi / en" message (``app.http.problems.bilingual``)."""
    vi, _, en = bilingual_text.partition(" / ")
    return en if lang == "en" and en else vi


def safe_next(value: str | None) -> str:
    """A local path to go to after sign-in; anything that could leave the site becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 for ch in value):
        return "/"
    return value


def path_with_query(request: Request[Any, Any, Any]) -> str:
    """The request's path and query string, as a ``next`` target."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.url.path + (f"?{query}" if query else "")


def _lang_links(request: Request[Any, Any, Any], lang: str) -> list[dict[str, Any]]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_QUERY]
    links = []
    for code in LANGS:
        query = urlencode([*params, (LANG_QUERY, code)])
        links.append({"code": code, "name": LANG_NAMES[code], "url": f"{request.url.path}?{query}",
                      "current": code == lang})
    return links


def page_count(total: int, page_size: int) -> int:
    """How many pages ``total`` items fill (at least one, so an empty list still has "page 1 of 1")."""
    return max(1, -(-total // page_size))


def pager(path: str, query: dict[str, str | int], *, page: int, pages: int, total: int, page_size: int,
          param: str = "page_number") -> dict[str, Any]:
    """Links of a pager for ``macros.html`` ``pager``: first, previous, next and last page (None where there
    is none), keeping ``query`` (the filters) in every link, and the range of items shown."""
    kept = [(key, str(value)) for key, value in query.items() if value not in ("", None)]

    def link(number: int) -> str:
        return f"{path}?{urlencode([*kept, (param, str(number))])}"

    return {"page": page, "pages": pages, "total": total,
            "first_item": min(total, (page - 1) * page_size + 1), "last_item": min(total, page * page_size),
            "first": link(1) if page > 2 else None, "previous": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page < pages else None, "last": link(pages) if page < pages - 1 else None}


def page_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What every page template gets: language, the signed-in staff member and their menu."""
    lang = current_lang(request)
    principal = current_principal(request)
    staff = principal if principal is not None and principal.kind == "staff" else None
    items = menu_for(staff.role if staff else None)
    return {
        "lang": lang,
        "principal": staff,
        "menu_items": items,
        "active_menu": active_item(request.url.path, items),
        "lang_links": _lang_links(request, lang),
    }


def lang_cookie(request: Request[Any, Any, Any]) -> list[Cookie]:
    """Remember a language chosen with ``?lang=`` for the next pages."""
    chosen = normalise_lang(request.query_params.get(LANG_QUERY))
    if chosen is None or chosen == normalise_lang(request.cookies.get(LANG_COOKIE)):
        return []
    return [Cookie(key=LANG_COOKIE, value=chosen, max_age=LANG_COOKIE_SECONDS, path="/", samesite="lax",
                   httponly=False)]


def page(
    request: Request[Any, Any, Any],
    template_name: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """Render ``template_name`` with the common page context plus ``context``."""
    return Template(
        template_name=template_name,
        context={**page_context(request), **context},
        status_code=status_code,
        cookies=[*lang_cookie(request), *(cookies or [])],
        headers={**PAGE_HEADERS, **(headers or {})},
        media_type="text/html",
    )


def see_other(path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """A 303 redirect (after a form post, the browser follows with GET)."""
    return Redirect(path=path, status_code=303, cookies=cookies or [], headers={"Cache-Control": "no-store"})
