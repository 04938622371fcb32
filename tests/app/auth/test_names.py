"""Staff as staff read them: "Full Name (username)" for a staff user with a full name, anyone else as recorded,
looked up in one query for a whole page."""

from __future__ import annotations

from sqlalchemy import event

from app.auth.models import Role
from app.auth.names import StaffNames, staff_label, staff_names
from app.database import session_scope
from tests.support.actors import add_user


def test_a_label_is_the_full_name_with_the_username_or_what_was_recorded():
    assert staff_label("lan.officer", "Trần Thị Lan") == "Trần Thị Lan (lan.officer)"
    assert staff_label("lan.officer", "  ") == "lan.officer"
    assert staff_label("bank:970436", None) == "bank:970436"
    assert staff_label(None, "Trần Thị Lan") == "" and staff_label("", None) == ""
    assert StaffNames()("scheduler") == "scheduler" and StaffNames()(None) == ""


async def test_one_query_names_every_staff_user_of_a_page_and_leaves_the_others_as_they_are(engine):
    await add_user(engine, "lan.officer", Role.officer, full_name="Trần Thị Lan")
    await add_user(engine, "minh.approver", Role.approver)  # no full name
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with session_scope(engine) as session:
            names = await staff_names(session, ["lan.officer", "minh.approver", "bank:970436", "scheduler",
                                                "system", None, "lan.officer", "someone.gone"])
            nobody = await staff_names(session, [None, ""])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert [s for s in statements if "staff_user" in s] and len([s for s in statements if "staff_user" in s]) == 1
    assert names.full_names == {"lan.officer": "Trần Thị Lan"}
    assert names("lan.officer") == "Trần Thị Lan (lan.officer)"
    assert names("minh.approver") == "minh.approver"
    assert names("bank:970436") == "bank:970436" and names("scheduler") == "scheduler" and names("system") == "system"
    assert names("someone.gone") == "someone.gone" and names(None) == ""
    assert nobody.full_names == {}
