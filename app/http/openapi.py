"""The OpenAPI document at /schema/openapi.json: who may call each operation, the problem+json errors it
answers, and what Litestar cannot infer from a handler that reads its own body or answers a file.

Security and errors come from one place (``describe_api_routes``): the roles a handler's guards allow say
whether a bank key, a staff session or both may call it, and every /api operation lists the problem+json
statuses of its kind (401 and 403 behind a guard, 404 with a path parameter, 409 and 422 for writes), or
those its ``opt["problems"]`` names. A handler describes an upload or a file answer with ``documented(...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.openapi.spec import (
    OpenAPIMediaType as MediaType,
)
from litestar.params import Parameter

from app.auth.guards import declared_roles
from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.http.problems import PROBLEM_JSON

BANK_KEY = "bankApiKey"
STAFF_SESSION = "staffSession"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SECURITY_SCHEMES: dict[str, Any] = {
    BANK_KEY: SecurityScheme(
        type="http", scheme="bearer", bearer_format="ansinh API key",
        description="A bank: `Authorization: Bearer <api key>`; the key is bound to one bank BIN and acts for "
                    "that bank only (an administrator creates it: POST /api/admin/api-keys)."),
    STAFF_SESSION: SecurityScheme(
        type="apiKey", name=SESSION_COOKIE, security_scheme_in="cookie",
        description="Staff (officer, approver, commune_staff, auditor, admin): the session cookie set by "
                    "POST /api/auth/login. A request that changes something also sends the session's CSRF "
                    "token in the `X-CSRF-Token` header."),
}


class ProblemRow(msgspec.Struct, kw_only=True):
    """One bad row or field of a refused file or body."""

    row: Annotated[int | None, msgspec.Meta(description=(
        "the row of a sheet or CSV (1 = first), the line of an MT940 file, the entry of a camt file (the n-th "
        "Ntry); null for a field of a JSON body or a fault of the whole file"))]
    column: Annotated[str | None, msgspec.Meta(description="the column header, tag (Ntry/Amt) or field name")]
    message: Annotated[str, msgspec.Meta(description="what is wrong, in Vietnamese")]
    message_en: Annotated[str | None, msgspec.Meta(description="the same in English")] = None
    line: Annotated[int | None, msgspec.Meta(description="camt: the XML line where the element starts")] = None


class Problem(msgspec.Struct, kw_only=True):
    """An error (RFC 9457 problem details); more members may be added (upload_id, total_errors, shortfall …)."""

    type: Annotated[str, msgspec.Meta(description="always about:blank")]
    status: int
    title: Annotated[str, msgspec.Meta(description="the HTTP status's name (English)")]
    detail: Annotated[str, msgspec.Meta(description="what is wrong and what to do: Vietnamese / English")]
    errors: Annotated[list[ProblemRow] | None, msgspec.Meta(
        description="every bad row or field of a refused file or body")] = None


PROBLEM_DESCRIPTIONS = {
    400: "Bad request: a parameter or the body cannot be read (problem+json, `errors` per field)",
    401: "Not signed in, or the API key is unknown or revoked",
    403: "The caller's role, bank or scope may not do this",
    404: "Not found (or outside the caller's scope, where saying it exists would leak)",
    409: "Conflicts with the current state (e.g. a run's status, a repeated request)",
    413: "The upload is too large",
    422: "Refused: the data or file is invalid (every bad row listed in `errors`); nothing was applied",
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def problem_responses(statuses: Iterable[int]) -> dict[int, ResponseSpec]:
    """The problem+json answers for ``statuses``, each referring to the one ``Problem`` schema."""
    return {status: ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, generate_examples=False,
                                 description=PROBLEM_DESCRIPTIONS.get(status, "Error"))
            for status in sorted(set(statuses))}


def security_for(roles: frozenset[Role] | None) -> list[SecurityRequirement] | None:
    """Who may call: a bank key, a staff session, either (alternatives), or nobody needs to (public)."""
    if not roles:
        return None
    schemes: list[SecurityRequirement] = []
    if Role.bank in roles:
        schemes.append({BANK_KEY: []})
    if roles - {Role.bank}:
        schemes.append({STAFF_SESSION: []})
    return schemes


def problem_statuses(path: str, handler: HTTPRouteHandler, roles: frozenset[Role] | None) -> set[int]:
    """The error statuses an /api operation answers: 400, 401 and 403 behind a guard, and those its
    ``opt["problems"]`` names, else by its kind (404 with a path parameter, 409 and 422 for a write)."""
    statuses = {400}
    if roles:
        statuses |= {401, 403}
    if "problems" in handler.opt:
        return statuses | set(handler.opt["problems"])
    if "{" in path:
        statuses.add(404)
    if set(handler.http_methods) & WRITES:
        statuses |= {409, 422}
    return statuses


def describe_api_routes(app: Litestar) -> None:
    """Give every /api operation its security requirement and problem+json responses (before the document is
    first built: Litestar builds it on the first request for /schema)."""
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or set(handler.http_methods) == {"OPTIONS"}:
                continue
            roles = declared_roles(handler)
            handler.security = security_for(roles)
            handler.responses = {**problem_responses(problem_statuses(route.path, handler, roles)),
                                 **(handler.responses or {})}


def binary(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description=description)


def upload_body(description: str, *, file: str, raw: Sequence[str] = ("application/octet-stream",),
                json_schema: Schema | None = None) -> RequestBody:
    """A body read by the handler itself: multipart with a ``file`` field, or the file as the raw body (its
    name in ``X-Filename``), or (``json_schema``) JSON."""
    content = {"multipart/form-data": MediaType(schema=Schema(
        type=OpenAPIType.OBJECT, required=["file"], properties={"file": binary(file)}))}
    if json_schema is not None:
        content["application/json"] = MediaType(schema=json_schema)
    for media_type in raw:
        content[media_type] = MediaType(schema=binary(f"{file}, sent as the body (its name in X-Filename)"))
    return RequestBody(content=content, description=description, required=True)


def documented(*, request_body: RequestBody | None = None, files: dict[str, str] | None = None,
               json: bool = True) -> type[Operation]:
    """An Operation class (a handler's ``operation_class``) adding a body the handler reads itself and the files
    its success answer may be: ``files`` media type → description; ``json=False``: files only."""

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            if not files or not self.responses:
                return
            code = next(code for code in self.responses if code.startswith("2"))
            success = self.responses[code]
            assert isinstance(success, OpenAPIResponse)
            content = dict(success.content or {}) if json else {}
            for media_type, description in files.items():
                content[media_type] = MediaType(schema=binary(description))
            success.content = content

    return DocumentedOperation


def one_of(*values: str, description: str | None = None) -> Any:
    """A query parameter taking one of ``values`` (checked by the handler, which words its own refusal)."""
    return Parameter(schema_extra={"enum": list(values)}, description=description)


def openapi_config() -> OpenAPIConfig:
    """The document's settings: handlers' docstrings as descriptions, the two ways of signing in."""
    return OpenAPIConfig(
        title="ansinh",
        version="0.1.0",
        description="Cashless social-allowance disbursement. Errors are application/problem+json (RFC 9457); "
                    "money is an integer number of đồng; dates are ISO 8601.",
        path="/schema",
        use_handler_docstrings=True,
        components=Components(security_schemes=SECURITY_SCHEMES),
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
    )
