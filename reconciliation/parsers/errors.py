"""The one error a parser raises: bilingual (Vietnamese / English), with every bad row listed."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

# A file with a million bad rows must not turn into a million-entry error list.
MAX_LISTED_ROW_ERRORS = 1000


class RowError(TypedDict):
    """One bad row: where it is and what is wrong, in Vietnamese and English.

    ``row`` is the line of the file for MT940 (the ``:61:`` line), the entry for camt (the n-th ``Ntry``
    of the file, 1 = first; a camt file may be written on one line) and the sheet row for CSV and xlsx
    (1 = first row); ``column`` names the tag (``:61:``, ``Ntry/Amt``) or the column header as written in
    the file (``Số tiền ghi nợ/Debit``); ``line``, for XML, the line of the file where the element starts.
    """

    row: int | None
    column: str | None
    message: str
    message_en: str
    line: NotRequired[int | None]


def row_error(row: int | None, column: str | None, message: str, message_en: str,
              line: int | None = None) -> RowError:
    """Build a row error dict in the shape the API returns for rejected files."""
    error: RowError = {"row": row, "column": column, "message": message, "message_en": message_en}
    if line is not None:
        error["line"] = line
    return error


class StatementParseError(ValueError):
    """A statement file that cannot be read; nothing in it is to be applied."""

    def __init__(self, message: str, message_en: str, errors: list[RowError] | None = None,
                 *, total_errors: int | None = None) -> None:
        self.message_vi = message
        self.message_en = message_en
        listed = list(errors or [])
        self.total_errors = total_errors if total_errors is not None else len(listed)
        self.errors: list[RowError] = listed[:MAX_LISTED_ROW_ERRORS]
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Vietnamese first, English after, as staff-facing text is everywhere."""
        return f"{self.message_vi} / {self.message_en}"

    def one_line(self, max_rows: int = 20) -> str:
        """The message and the first bad rows on a single line (for the CLI)."""
        parts = [self.message]
        for err in self.errors[:max_rows]:
            where = " ".join(p for p in (
                f"dòng/row {err['row']}" if err["row"] is not None else "",
                f"cột/column {err['column']}" if err["column"] else "",
            ) if p)
            parts.append(f"{where}: {err['message']} / {err['message_en']}" if where
                         else f"{err['message']} / {err['message_en']}")
        hidden = self.total_errors - min(len(self.errors), max_rows)
        if hidden > 0:
            parts.append(f"… và {hidden} lỗi khác / … and {hidden} more")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The error as plain data (message, English message, listed rows, total count)."""
        return {"message": self.message, "message_vi": self.message_vi, "message_en": self.message_en,
                "errors": list(self.errors), "total_errors": self.total_errors}


class RowErrors:
    """Collects every bad row of a file, then raises them all at once."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str, message_en: str,
            line: int | None = None) -> None:
        """Record one bad row (the first MAX_LISTED_ROW_ERRORS are kept, all are counted)."""
        self.count += 1
        if len(self.errors) < MAX_LISTED_ROW_ERRORS:
            self.errors.append(row_error(row, column, message, message_en, line))

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self, what_vi: str, what_en: str) -> None:
        """Raise one StatementParseError listing every recorded row, if there is any."""
        if self.count:
            self.errors.sort(key=lambda error: error["row"] or 0)
            raise StatementParseError(
                f"{what_vi}: {self.count} dòng lỗi, tệp bị từ chối toàn bộ",
                f"{what_en}: {self.count} bad {'row' if self.count == 1 else 'rows'}, the whole file is rejected",
                self.errors, total_errors=self.count)
