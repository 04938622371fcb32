"""Jinja2 templates and static files: the template globals every page can use."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from markupsafe import Markup, escape

from app.auth.guards import CSRF_FORM_FIELD, current_principal
from app.vietnam_time import VIETNAM, month_text
from app.web.i18n import DEFAULT_LANG, translate
from app.web.render import current_lang

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PATH = "/static"


def _lang(context: Mapping[str, Any]) -> str:
    lang = context.get("lang")
    if isinstance(lang, str):
        return lang
    request = context.get("request")
    return current_lang(request) if request is not None else DEFAULT_LANG


def t(context: Mapping[str, Any], key: str, **params: Any) -> str:
    """Template global: the text for ``key`` in the page's language."""
    return translate(key, _lang(context), **params)


def csrf_field(context: Mapping[str, Any]) -> Markup:
    """Template global: the hidden ``_csrf`` input every form carries.

    Signed-in pages use the session's token; the sign-in form passes its own as ``form_csrf``.
    """
    token = context.get("form_csrf")
    if not token:
        request = context.get("request")
        principal = current_principal(request) if request is not None else None
        token = principal.csrf_token if principal is not None else ""
    return Markup(f'<input type="hidden" name="{CSRF_FORM_FIELD}" value="{escape(token or "")}">')


@cache
def _asset_version(relative_path: str) -> str:
    return hashlib.sha256((STATIC_DIR / relative_path).read_bytes()).hexdigest()[:10]


def static(context: Mapping[str, Any], relative_path: str) -> str:
    """Template global: the URL of a static file, with a content hash so browsers never use a stale one."""
    return f"{STATIC_PATH}/{relative_path}?v={_asset_version(relative_path)}"


def local_time(value: datetime | str | None, with_time: bool = True, seconds: bool = False) -> str:
    """Template filter: a timestamp as Vietnamese staff read it (dd/mm/yyyy HH:MM, Vietnam time; with
    ``seconds`` HH:MM:SS); ISO 8601 text (an API shape turned into builtins) is read first."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(VIETNAM)
    if not with_time:
        return value.strftime("%d/%m/%Y")
    return value.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def vnd(value: int | None) -> str:
    """Template filter: an amount in đồng with "." thousands separators, as Vietnamese staff write it."""
    if value is None:
        return ""
    return f"{int(value):,} đ".replace(",", ".")


def number(value: int | float | None, digits: int = 0) -> str:
    """Template filter: a count or figure with "." thousands and "," decimals."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent(value: float | None) -> str:
    """Template filter: a share 0..1 as a percentage with one decimal ("—" when unknown)."""
    return "—" if value is None else number(value * 100, 1) + " %"


def configure_engine(engine: JinjaTemplateEngine) -> None:
    """Register the ansinh globals and filters on Litestar's Jinja environment."""
    environment = engine.engine
    environment.trim_blocks = True
    environment.lstrip_blocks = True
    engine.register_template_callable("t", t)
    engine.register_template_callable("csrf_field", csrf_field)
    engine.register_template_callable("static", static)
    environment.filters["local_time"] = local_time
    environment.filters["vnd"] = vnd
    environment.filters["number"] = number
    environment.filters["percent"] = percent
    environment.filters["month"] = month_text


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's template configuration for ``app/web/templates``."""
    return TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=configure_engine)


def static_files_router() -> Router:
    """``/static``: the CSS and JavaScript of the pages (public, cacheable; URLs carry a content hash)."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        opt={"public": True},
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
    )
