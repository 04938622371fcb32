"""Migration 0039: ``vietnamese_sort_key`` puts names in the order of the Vietnamese alphabet, whatever the
database's collation; it goes down and up again."""

from __future__ import annotations

import random
import unicodedata

from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions
from tests.support.vietnamese import vietnamese_sort_key

# The Vietnamese order: a ă â b c d đ e ê … o ô ơ … u ư … y (z, made up, after y); tones after the letters,
# ngang < huyền < hỏi < ngã < sắc < nặng, but only between names of the same letters (Dưỡng before Dương Thị
# Bình); a space before any letter; capitals first only between equal names.
IN_ORDER = ["An", "an", "Án", "An Bình", "Anh", "Ắ", "Ặ", "Ăn", "Ân", "Ấn", "Bình", "Dương", "Dưỡng", "Dương Thị Bình",
            "Đặng Văn An", "Đinh", "Em", "Ê", "Hà", "Hả", "Hạ", "Ha Hà", "Hà Ha", "Ích", "Kim", "Ong", "Ôn", "Ơn", "Uy",
            "Ứng", "Vũ", "Yến", "Zương"]


def _sorted_by_the_key(url: str, names: list[str]) -> list[str]:
    return [r["name"] for r in run_sql(
        url, 'SELECT name FROM unnest($1::text[]) AS n(name) ORDER BY vietnamese_sort_key(name) COLLATE "C"', names)]


def test_names_sort_in_vietnamese_order_whatever_the_collation(database_url):
    shuffled = IN_ORDER[:]
    random.Random(7).shuffle(shuffled)
    assert _sorted_by_the_key(database_url, shuffled) == IN_ORDER == sorted(shuffled, key=vietnamese_sort_key)
    # The database's own order (here "C") is not it: Đ and Ư after Z, Ân after Bình.
    plain = [r["name"] for r in run_sql(database_url, "SELECT name FROM unnest($1::text[]) AS n(name) ORDER BY name",
                                        shuffled)]
    assert plain != IN_ORDER and plain.index("Đặng Văn An") > plain.index("Zương")
    assert run_sql(database_url, "SELECT vietnamese_sort_key(NULL) AS key")[0]["key"] is None


# Vietnamese letters with every tone, in both cases, and what else a name holds.
LETTERS = sorted({unicodedata.normalize("NFC", letter + tone) for letter in "aăâbcdđeêghiklmnoôơpqrstuưvxyfjwz"
                  for tone in ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
                  if len(unicodedata.normalize("NFC", letter + tone)) == 1})
NAME_CHARACTERS = st.sampled_from(LETTERS + [c.upper() for c in LETTERS] + [" ", "-", "'"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(NAME_CHARACTERS, min_size=1, max_size=12), min_size=2, max_size=40, unique=True))
def test_the_python_key_of_the_tests_orders_names_as_the_database_does(database_url, names):
    assert _sorted_by_the_key(database_url, names) == sorted(names, key=vietnamese_sort_key)


def test_vietnamese_sort_key_down_and_up(database_url):
    command.downgrade(_alembic_config(database_url), "0038")
    assert versions(database_url) == ["0038"]
    assert run_sql(database_url, "SELECT 1 FROM pg_proc WHERE proname = 'vietnamese_sort_key'") == []
    assert run_sql(database_url, "SELECT 1 FROM information_schema.columns WHERE column_name = 'name_sort_key'") == []
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _sorted_by_the_key(database_url, ["Zương", "Đặng Văn An", "Ân"]) == ["Ân", "Đặng Văn An", "Zương"]
