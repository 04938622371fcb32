"""Migration 0040: people sort by given name (tên), then by the whole name, as Vietnamese lists do; the
Python key of the tests agrees with the database's; it goes down and up again."""

from __future__ import annotations

import random

from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions
from tests.support.vietnamese import person_sort_key

# Given names first (An, Ân, Ấn, Bình, Đức, Tư), the same given name by the whole name (Bùi before Nguyễn
# before Trần); a one-word name is its own given name.
IN_ORDER = ["An", "Bùi Thị An", "Nguyễn Văn An", "Trần An", "Lê Thị Ân", "Hoàng Thị Ấn", "Phạm Văn Bình",
            "Bình Văn Đức", "Trần Văn Đức", "Nguyễn Văn Tư"]


def _people_sorted(url: str, names: list[str]) -> list[str]:
    return [r["name"] for r in run_sql(
        url, 'SELECT name FROM unnest($1::text[]) AS n(name) ORDER BY vietnamese_person_sort_key(name) COLLATE "C"',
        names)]


def _generation(url: str) -> str:
    return run_sql(url, "SELECT generation_expression AS g FROM information_schema.columns "
                        "WHERE table_name = 'beneficiary' AND column_name = 'name_sort_key'")[0]["g"]


def test_people_sort_by_given_name_then_whole_name(database_url):
    shuffled = IN_ORDER[:]
    random.Random(11).shuffle(shuffled)
    assert _people_sorted(database_url, shuffled) == IN_ORDER == sorted(shuffled, key=person_sort_key)
    assert "vietnamese_person_sort_key" in _generation(database_url)


NAME = st.lists(st.sampled_from(["An", "Ân", "Ấn", "an", "Bình", "Đức", "Dung", "Nguyễn", "Thị", "Văn", "Tư", "Ư"]),
                min_size=1, max_size=4).map(" ".join)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(NAME, min_size=2, max_size=30, unique=True))
def test_the_python_key_of_the_tests_orders_people_as_the_database_does(database_url, names):
    assert _people_sorted(database_url, names) == sorted(names, key=person_sort_key)


def test_given_name_order_down_and_up(database_url):
    command.downgrade(_alembic_config(database_url), "0039")
    assert versions(database_url) == ["0039"]
    assert run_sql(database_url, "SELECT 1 FROM pg_proc WHERE proname = 'vietnamese_person_sort_key'") == []
    assert "vietnamese_person_sort_key" not in _generation(database_url)
    assert "vietnamese_sort_key" in _generation(database_url)
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert "vietnamese_person_sort_key" in _generation(database_url)
