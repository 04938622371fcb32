"""Page numbers and sizes of lists (API.md: ``{items, total, page, page_size}``), kept within what a query can
take: a page number past every list's end (``page=99999999999999999999``) is an empty page or a 400, never an
offset PostgreSQL refuses (a 500)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

MAX_PAGE = 1_000_000  # × at most 1,000 per page: an offset far past any list, well inside bigint
MAX_PAGE_SIZE = 1_000

Page = Annotated[int, Parameter(ge=1, le=MAX_PAGE, description="page number, from 1")]
PageSize = Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}")]


def page_window(page: int, page_size: int, most: int = MAX_PAGE_SIZE) -> tuple[int, int]:
    """(page, page_size) brought within bounds: page 1 to ``MAX_PAGE``, size 1 to ``most``."""
    return min(max(page, 1), MAX_PAGE), min(max(page_size, 1), most)
