"""The message catalogue: every key a page uses exists, in Vietnamese and English."""

import re
from pathlib import Path

from app.auth.models import Role
from app.web.i18n import MESSAGES, normalise_lang, translate
from app.web.menu import MENU

WEB = Path(__file__).resolve().parents[3] / "app" / "web"
NAMESPACES = {key.split(".")[0] for key in MESSAGES}
QUOTED_KEY = re.compile(r"""["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
FILE_NAMES = (".html", ".css", ".js", ".json")


def _used_keys() -> set[str]:
    """Every quoted dotted name in app/web that looks like a key of ours (not a file name)."""
    keys: set[str] = set()
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        if path.name == "i18n.py":  # the catalogue itself
            continue
        for found in QUOTED_KEY.findall(path.read_text(encoding="utf-8")):
            if found.split(".")[0] in NAMESPACES and not found.endswith(FILE_NAMES):
                keys.add(found)
    return keys


def test_every_used_key_exists_in_both_languages():
    used = _used_keys()
    used.update(item.label_key for item in MENU)
    used.update(item.help_key for item in MENU)
    used.update(f"role.{role.value}" for role in Role)
    assert len(used) > 60  # the scan really found the templates' keys
    missing = sorted(key for key in used if key not in MESSAGES)
    assert missing == []


def test_every_message_has_vietnamese_and_english_with_the_same_placeholders():
    placeholder = re.compile(r"\{(\w+)\}")
    for key, entry in MESSAGES.items():
        assert entry.get("vi") and entry.get("en"), key
        assert set(placeholder.findall(entry["vi"])) == set(placeholder.findall(entry["en"])), key


def test_english_says_one_in_the_singular():
    placeholder = re.compile(r"\{(\w+)\}")
    singular = {key: entry for key, entry in MESSAGES.items() if "en_one" in entry}
    assert {"people.found", "import.rejected", "audit.count", "uploads.count", "exceptions.count", "cash.summary",
            "follow.summary", "statements.open_exceptions"} <= set(singular)
    for key, entry in singular.items():  # the same text but for the count, which it says
        assert set(placeholder.findall(entry["en_one"])) == set(placeholder.findall(entry["en"])) - {"count"}, key
        assert "1 " in entry["en_one"], key
    assert translate("people.found", "en", count="1") == "1 person found"
    assert translate("people.found", "en", count=1) == "1 person found"
    assert translate("people.found", "en", count="1.234") == "1.234 people found"
    assert translate("people.found", "en", count="0") == "0 people found"
    assert translate("people.found", "vi", count="1") == "Tìm thấy 1 người"
    assert translate("import.rejected", "en", count=1) == "File rejected: 1 error"
    assert translate("audit.count", "en", count="1") == "1 entry"
    assert translate("cash.found", "en", count="1", q="7890") == "1 person waiting for cash found for “7890”."


def test_unused_keys_are_not_left_behind():
    used = _used_keys() | {item.label_key for item in MENU} | {item.help_key for item in MENU}
    used |= {f"role.{role.value}" for role in Role}
    assert sorted(set(MESSAGES) - used) == []


def test_translate_fills_placeholders_and_falls_back():
    assert translate("home.welcome", "vi", name="Lan") == "Xin chào, Lan"
    assert translate("home.welcome", "en", name="Lan") == "Hello, Lan"
    assert translate("no.such.key", "en") == "no.such.key"
    assert normalise_lang("EN") == "en" and normalise_lang("fr") is None and normalise_lang(None) is None


def test_every_rule_a_statement_line_can_hold_has_a_name_on_the_pages():
    from app.reconciliation_api.models import MATCH_RULES
    from app.web.statements import RULE_KEYS

    assert set(MATCH_RULES) <= set(RULE_KEYS)  # no raw code such as "bank_fee" on a page
    assert all(MESSAGES[RULE_KEYS[rule]]["vi"] and MESSAGES[RULE_KEYS[rule]]["en"] for rule in MATCH_RULES)
