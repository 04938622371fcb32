"""Months as staff read them: one helper for pages, Excel and messages."""

from datetime import date

import pytest

from app.vietnam_time import month_text


@pytest.mark.parametrize(("month", "text"), [
    ("2026-12", "12/2026"), ("2026-01", "01/2026"), (date(2025, 3, 1), "03/2025"), (date(2026, 11, 30), "11/2026"),
])
def test_month_text_writes_month_slash_year(month, text):
    assert month_text(month) == text


@pytest.mark.parametrize("month", ["12/2026", "2026", "", "26-12", "abcd-ef"])
def test_month_text_refuses_what_is_not_a_month(month):
    with pytest.raises(ValueError, match="not a YYYY-MM month"):
        month_text(month)
