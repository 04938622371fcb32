"""Errors as application/problem+json (RFC 9457), with row errors for rejected files."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.http.money import NOT_A_JSON_INTEGER, money_field_messages

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"

# Litestar's own refusals (no route, wrong method, body too large …) word their detail in English only.
_VI_DETAILS = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    413: "Dữ liệu gửi lên quá lớn",
    415: "Loại dữ liệu không được hỗ trợ",
    429: "Quá nhiều yêu cầu, hãy thử lại sau",
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def counted(count: int, one: str, many: str) -> str:
    """A count in English, the noun agreeing with it: "1 row", "3 rows" (Vietnamese nouns do not change)."""
    return f"{count:,} {one if count == 1 else many}"


def bilingual(vi: str, en: str) -> str:
    """Staff-facing text: Vietnamese first, English after."""
    return f"{vi} / {en}"


class Problem(HTTPException):
    """An HTTP error with a problem+json body; ``errors`` lists bad rows or fields."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.title = title or _TITLES.get(status_code, "Error")
        self.errors = errors
        self.extra = extra or {}


def problem_response(
    status: int, detail: str, *, title: str | None = None, errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": "about:blank", "status": status, "title": title or _TITLES.get(status, "Error"),
                            "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, Problem):
        return problem_response(exc.status_code, exc.detail, title=exc.title, errors=exc.errors,
                                extra=exc.extra if isinstance(exc.extra, dict) else None, headers=exc.headers)
    errors = None
    status = exc.status_code
    detail = bilingual(_VI_DETAILS.get(exc.status_code, "Không thực hiện được yêu cầu"),
                       exc.detail or _TITLES.get(exc.status_code, "Error"))
    if isinstance(exc, ValidationException):
        # Litestar words these in English only: a Vietnamese line first, its message kept as message_en.
        detail = bilingual("Dữ liệu gửi lên không hợp lệ", exc.detail)
        errors = validation_errors(exc)
        money = [e["column"] for e in errors or () if e.pop("money", False)]
        if money:  # a well-formed body whose amount is not a JSON integer: 422, naming the field
            status = 422
            names = ", ".join(str(name) for name in money)
            detail = bilingual(f"Số tiền phải là số nguyên JSON (số đồng): {names}",
                               f"money must be a JSON integer of đồng: {names}")
    return problem_response(status, detail, errors=errors, headers=exc.headers)


def validation_errors(exc: ValidationException) -> list[dict[str, Any]] | None:
    """Litestar's validation failures as ``{row, column, message, message_en}``, Vietnamese first."""
    return [_validation_error(e) for e in exc.extra] if isinstance(exc.extra, list) else None


def _validation_error(error: Any) -> dict[str, Any]:
    key = error.get("key") if isinstance(error, dict) else None
    message = str(error.get("message") if isinstance(error, dict) else error)
    if message == NOT_A_JSON_INTEGER:
        vi, en = money_field_messages(str(key))
        return {"row": None, "column": key, "message": vi, "message_en": en, "money": True}
    vi = f"Giá trị của trường '{key}' không hợp lệ" if key else "Dữ liệu không hợp lệ"
    bound = _BOUND.fullmatch(message)
    if bound:  # msgspec's "Expected `int` <= 200": say the limit in Vietnamese too
        vi += f": {_BOUND_VI[bound.group(1)]} {bound.group(2)}"
    return {"row": None, "column": key, "message": vi, "message_en": message}


# A limit a value broke, as msgspec words it ("Expected `int` <= 200", "Expected `int` >= 1").
_BOUND = re.compile(r"Expected `(?:int|float|decimal|str|array|object)` (<=|>=|<|>) (-?[\d.]+)")
_BOUND_VI = {"<=": "phải ≤", ">=": "phải ≥", "<": "phải <", ">": "phải >"}


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        bilingual("Lỗi hệ thống, vui lòng thử lại hoặc báo quản trị", "Internal error; try again or tell an administrator"),
    )


EXCEPTION_HANDLERS = {HTTPException: handle_http_exception, Exception: handle_unexpected}
