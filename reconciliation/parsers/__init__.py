"""Bank statement parsers: MT940, camt.052/053/054, and Vietnamese CSV/xlsx exports.

``parse_statement_file(data, filename)`` detects the format from the content and returns the
statements with their lines (money in signed integer minor units). A file that cannot be read
raises ``StatementParseError`` (bilingual message, every bad row listed) — never anything else.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import structlog

from reconciliation.parsers.detect import detect_format
from reconciliation.parsers.errors import RowError, StatementParseError
from reconciliation.parsers.model import Statement, StatementLine

__all__ = ["RowError", "Statement", "StatementLine", "StatementParseError", "detect_format",
           "parse_statement_file"]

log = structlog.get_logger()


def _parser_for(file_format: str) -> Callable[[bytes, str | None], list[Statement]]:
    if file_format == "mt940":
        from reconciliation.parsers.mt940 import parse_mt940

        return parse_mt940
    if file_format.startswith("camt."):
        from reconciliation.parsers.camt import parse_camt

        return parse_camt
    if file_format == "csv":
        from reconciliation.parsers.tabular import parse_csv

        return parse_csv
    from reconciliation.parsers.xlsx import parse_xlsx

    return parse_xlsx


def parse_statement_file(data: bytes, filename: str | None = None) -> list[Statement]:
    """Every statement in ``data`` (format detected from the content); bad files raise StatementParseError."""
    file_format = detect_format(data, filename)
    parser = _parser_for(file_format)
    collecting = gc.isenabled()
    # A million lines are a million new objects and no reference cycles: the cyclic collector
    # would only rescan them over and over.
    gc.disable()
    try:
        statements = parser(data, filename)
    except StatementParseError:
        raise
    except (RecursionError, MemoryError):
        raise StatementParseError("Tệp quá phức tạp hoặc quá lớn để đọc", "The file is too complex or too large to read") from None
    except Exception as exc:  # a parser bug must still reach the user as a clear rejection
        log.error("statement_parser_failed", file_format=file_format, filename=filename, exc_info=exc)
        raise StatementParseError(
            f"Không đọc được tệp {file_format}: {type(exc).__name__}: {exc}",
            f"Cannot read the {file_format} file: {type(exc).__name__}: {exc}") from None
    finally:
        if collecting:
            gc.enable()
    return statements
