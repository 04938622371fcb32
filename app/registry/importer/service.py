"""Importing beneficiaries from a spreadsheet: check every row, then store all rows in one transaction.

Rows are compared with the database in Python (one query per table for the whole file), the rows
that change something are COPYed into a temporary table, and set-based statements apply them.
Re-importing the same file changes nothing; a changed row updates that person, with an audit entry.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.http.problems import Problem, bilingual, counted
from app.reconciliation_api.blocks import OPEN_NUMBER_BLOCKS
from app.registry.identity import fold_accents, holder_name_matches, mask_digits
from app.registry.importer.columns import ERRORS_HEADER
from app.registry.importer.reader import FileRejected, Table, read_table
from app.registry.importer.rows import ImportRow, Reference, check_rows
from app.registry.models import Bank, BeneficiaryImport, Commune, Programme, ProgrammeCategory
from app.registry.scope import commune_in_scope
from app.registry.service.common import actor_of
from app.registry.sheets import rows_csv, rows_xlsx
from app.vietnam_time import VIETNAM, month_text, vietnam_today
from reconciliation.matching import RETURN_REASON_MESSAGES

log = structlog.get_logger()

IMPORT_LOCK_KEY = 4_201_0003  # pg_advisory_xact_lock key: one beneficiary import at a time


@dataclass
class ImportOutcome:
    """What an import did, or every reason it did nothing."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    name_mismatches: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    readable: bool = True  # False when the file itself could not be read (no per-row error copy)
    upload_id: UUID | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # Programmes whose new enrolments start earlier than their next run pays back pay from (``back_pay``).
    back_pay: list[dict[str, Any]] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return not self.errors


async def load_reference(session: AsyncSession) -> Reference:
    """Communes, banks, programmes and categories for checking rows."""
    communes = dict((await session.execute(select(Commune.code, Commune.province_code))).tuples().all())
    bank_by_key: dict[str, str] = {}
    for bank in (await session.scalars(select(Bank))).all():
        bank_by_key[bank.bin] = bank.bin
        bank_by_key[fold_accents(bank.short_name).replace(" ", "")] = bank.bin
        bank_by_key.setdefault(fold_accents(bank.name).replace(" ", ""), bank.bin)
    categories = {(c.programme_code, c.code): c.coefficient
                  for c in (await session.scalars(select(ProgrammeCategory))).all()}
    programmes = frozenset((await session.scalars(select(Programme.code))).all())
    return Reference(commune_province=communes, bank_by_key=bank_by_key, category_coefficient=categories,
                     programmes=programmes)


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session (same transaction) for COPY and large array queries."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


@dataclass(slots=True)
class _Existing:
    id: UUID
    full_name: str
    date_of_birth: date
    sex: str
    commune_code: str
    province_code: str
    address: str
    phone: str | None
    channel: str
    status: str
    bank_bin: str | None
    account_number: str | None
    holder_name: str | None


_EXISTING_SQL = """
    SELECT b.national_id, b.id, b.full_name, b.date_of_birth, b.sex, b.commune_code, c.province_code,
           b.address, b.phone, b.channel, b.status, a.bank_bin, a.account_number, a.holder_name
      FROM beneficiary b
      JOIN commune c ON c.code = b.commune_code
      LEFT JOIN bank_account a ON a.beneficiary_id = b.id AND a.effective_to IS NULL
     WHERE b.national_id = ANY($1::text[])
"""


async def _load_existing(pg: Any, rows: list[ImportRow], *, lock: bool = False) -> dict[str, _Existing]:
    """Known people of the file by citizen ID (locked FOR UPDATE when ``lock``)."""
    query = _EXISTING_SQL + " FOR UPDATE OF b" if lock else _EXISTING_SQL
    records = await pg.fetch(query, [r.national_id for r in rows])
    return {rec["national_id"]: _Existing(*tuple(rec)[1:]) for rec in records}


async def _load_enrolments(pg: Any, ids: list[UUID]) -> dict[tuple[UUID, str, str, date], tuple[int, Decimal, str,
                                                                                                 date | None]]:
    if not ids:
        return {}
    records = await pg.fetch(
        """
        SELECT beneficiary_id, programme_code, category_code, start_month, id, coefficient, decision_number,
               decision_date
          FROM enrolment WHERE beneficiary_id = ANY($1::uuid[])
        """,
        ids,
    )
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5], r[6], r[7]) for r in records}


async def _active_account_holders(pg: Any, rows: list[ImportRow]) -> dict[tuple[str, str], str]:
    with_account = [r for r in rows if r.account_number]
    if not with_account:
        return {}
    records = await pg.fetch(
        """
        SELECT a.bank_bin, a.account_number, b.national_id
          FROM bank_account a JOIN beneficiary b ON b.id = a.beneficiary_id
         WHERE a.effective_to IS NULL
           AND (a.bank_bin, a.account_number) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        """,
        [r.bank_bin for r in with_account], [r.account_number for r in with_account],
    )
    return {(r[0], r[1]): r[2] for r in records}


async def _blocked_numbers(pg: Any) -> dict[tuple[str, str], tuple[str, datetime]]:
    """(bank, account number) -> (the bank's return code, since when) of every number with an open block: a
    small set (one per account a bank refused), read once per import."""
    records = await pg.fetch(f"SELECT bank_bin, account_number, reason, returned_at FROM ({OPEN_NUMBER_BLOCKS}) k")  # noqa: S608
    return {(r[0], r[1]): (r[2], r[3]) for r in records}


def _error(row: int, column: str, vi: str, en: str) -> dict[str, Any]:
    return {"row": row, "column": column, "message": vi, "message_en": en}


def _database_errors(table: Table, rows: list[ImportRow], existing: dict[str, _Existing],
                     holders: dict[tuple[str, str], str], principal: Principal | None,
                     blocked: dict[tuple[str, str], tuple[str, datetime]]) -> list[dict[str, Any]]:
    """Conflicts with stored data: another person's citizen ID or account, someone outside scope, a deceased,
    an account number a bank refused (registering it again would have the next run pay into it)."""
    id_column = table.headers.get("national_id", "Số CCCD")
    account_column = table.headers.get("account_number", "Số tài khoản")
    errors: list[dict[str, Any]] = []
    in_file = {r.national_id: r for r in rows}
    for row in rows:
        known = existing.get(row.national_id)
        if known is not None:
            if not commune_in_scope(principal, known.commune_code, known.province_code):
                errors.append(_error(row.row, id_column,
                                     "Số CCCD đã được đăng ký cho một người ngoài phạm vi quản lý của bạn",
                                     "This citizen ID is registered for a person outside your scope"))
            elif known.date_of_birth != row.date_of_birth or known.sex != row.sex:
                errors.append(_error(
                    row.row, id_column,
                    f"Số CCCD trùng với người đã có: {known.full_name}, sinh {known.date_of_birth:%d/%m/%Y} "
                    "(ngày sinh hoặc giới tính khác)",
                    f"Duplicate citizen ID: already registered for {known.full_name}, born "
                    f"{known.date_of_birth.isoformat()} (different date of birth or sex)"))
            elif known.status == "deceased":
                errors.append(_error(row.row, id_column, "Người này đã được ghi nhận là đã mất",
                                     "This person is recorded as deceased"))
        if row.account_number and row.bank_bin:
            holder = holders.get((row.bank_bin, row.account_number))
            # The account may move to this person when its holder is in the file with another account.
            moving_away = holder in in_file and in_file[holder].account_number is not None and (
                in_file[holder].bank_bin, in_file[holder].account_number) != (row.bank_bin, row.account_number)
            block = blocked.get((row.bank_bin, row.account_number))
            unchanged = known is not None and (known.bank_bin, known.account_number, known.holder_name) == (
                row.bank_bin, row.account_number, row.holder_name)
            if block is not None and not unchanged:
                code, since = block
                reason_vi, reason_en = RETURN_REASON_MESSAGES.get(code, (code, code))
                day = since.astimezone(VIETNAM).strftime("%d/%m/%Y")
                errors.append(_error(
                    row.row, account_column,
                    f"Số tài khoản {row.account_number} bị chặn từ {day}: ngân hàng đã trả lại tiền với mã {code} "
                    f"({reason_vi}). Hãy dùng tài khoản khác, hoặc cán bộ gỡ chặn khi ngân hàng xác nhận tài "
                    "khoản nhận tiền được trở lại",
                    f"Account {row.account_number} has been blocked since {day}: the bank returned money with code "
                    f"{code} ({reason_en}). Use another account, or an officer releases the block once the bank "
                    "confirms the account can receive money again"))
            if holder is not None and holder != row.national_id and not moving_away:
                errors.append(_error(row.row, account_column,
                                     f"Số tài khoản {row.account_number} đang là tài khoản của người hưởng khác "
                                     f"(CCCD {mask_digits(holder)})",
                                     f"Account {row.account_number} is the active account of another beneficiary "
                                     f"(citizen ID {mask_digits(holder)})"))
    return errors


_STAGE_COLUMNS = (
    "row_no", "beneficiary_id", "national_id", "full_name", "date_of_birth", "sex", "commune_code", "address",
    "phone", "channel", "programme_code", "category_code", "coefficient", "start_month", "decision_number",
    "decision_date", "bank_bin", "account_number", "holder_name", "person_action", "fields_changed",
    "name_changed", "moved", "account_action", "verification_status", "enrolment_action", "enrolment_id",
    "audit_before", "audit_after", "account_opened",
)
STAGE_TABLE = "import_stage"
_STAGE_DDL = """
    CREATE TEMP TABLE import_stage (
        row_no integer, beneficiary_id uuid, national_id text, full_name text, date_of_birth date, sex text,
        commune_code text, address text, phone text, channel text, programme_code text, category_code text,
        coefficient numeric(4, 2), start_month date, decision_number text, decision_date date, bank_bin text,
        account_number text, holder_name text, person_action text, fields_changed boolean, name_changed boolean,
        moved boolean, account_action text, verification_status text, enrolment_action text, enrolment_id bigint,
        audit_before text, audit_after text, account_opened date
    ) ON COMMIT DROP
"""


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


@dataclass
class _Plan:
    records: list[tuple[Any, ...]] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)  # citizen IDs of known people the file changes
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    name_mismatches: int = 0
    new_enrolments: list[tuple[str, date]] = field(default_factory=list)  # (programme, start month) added


def _plan(rows: list[ImportRow], existing: dict[str, _Existing],
          enrolments: dict[tuple[UUID, str, str, date], tuple[int, Decimal, str, date | None]]) -> _Plan:
    """What each row changes; only rows that change something are staged."""
    plan = _Plan()
    for row in rows:
        known = existing.get(row.national_id)
        account_given = row.account_number is not None
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        if known is None:
            # New people get no audit row each: the import's own audit row, the kept file and the
            # 'registered' event (reason "import <upload id>") record who created them and from what.
            beneficiary_id = uuid.uuid4()
            person_action, fields_changed, name_changed, moved = "create", False, False, False
            account_action = "insert" if account_given else "none"
            enrolment_action, enrolment_id = "insert", None
        else:
            beneficiary_id = known.id
            if not row.channel_given and row.account_number is None and known.account_number:
                row.channel = known.channel  # blank bank columns do not undo an account recorded earlier
            for name in ("full_name", "address", "phone", "channel"):
                old, new = getattr(known, name), getattr(row, name)
                if old != new:
                    before[name], after[name] = old, new
            fields_changed = bool(before)
            name_changed = "full_name" in before
            moved = known.commune_code != row.commune_code
            if moved:
                before["commune_code"], after["commune_code"] = known.commune_code, row.commune_code
            account_action = "none"
            if account_given and (known.bank_bin, known.account_number, known.holder_name) != (
                    row.bank_bin, row.account_number, row.holder_name):
                account_action = "replace" if known.account_number else "insert"
                before["bank_account"] = None if not known.account_number else {
                    "bank_bin": known.bank_bin, "account_number": known.account_number,
                    "holder_name": known.holder_name}
                after["bank_account"] = {"bank_bin": row.bank_bin, "account_number": row.account_number,
                                         "holder_name": row.holder_name}
            current = enrolments.get((known.id, row.programme_code, row.category_code, row.start_month))
            if current is None:
                enrolment_action, enrolment_id = "insert", None
                after["enrolment"] = {"programme": row.programme_code, "category": row.category_code,
                                      "coefficient": row.coefficient, "start_month": row.start_month,
                                      "decision_number": row.decision_number}
            else:
                enrolment_id, coefficient, decision_number, decision_date = current
                new_date = row.decision_date if row.decision_date is not None else decision_date
                if (coefficient, decision_number, decision_date) != (row.coefficient, row.decision_number, new_date):
                    enrolment_action = "update"
                    before["enrolment"] = {"id": enrolment_id, "coefficient": coefficient,
                                           "decision_number": decision_number, "decision_date": decision_date}
                    after["enrolment"] = {"id": enrolment_id, "coefficient": row.coefficient,
                                          "decision_number": row.decision_number, "decision_date": new_date}
                else:
                    enrolment_action = "none"
            changed = fields_changed or moved or account_action != "none" or enrolment_action != "none"
            if not changed:
                plan.unchanged += 1
                continue
            person_action = "update"
        verification_status = None
        if account_action != "none":
            verification_status = ("unverified" if holder_name_matches(row.full_name, row.holder_name or "")
                                   else "name_mismatch")
            plan.name_mismatches += verification_status == "name_mismatch"
        if person_action == "create":
            plan.created += 1
        else:
            plan.updated += 1
            plan.updated_ids.append(row.national_id)
        if enrolment_action == "insert":
            plan.new_enrolments.append((row.programme_code, row.start_month))
        plan.records.append((
            row.row, beneficiary_id, row.national_id, row.full_name, row.date_of_birth, row.sex, row.commune_code,
            row.address, row.phone, row.channel, row.programme_code, row.category_code, row.coefficient,
            row.start_month, row.decision_number, row.decision_date, row.bank_bin, row.account_number,
            row.holder_name, person_action, fields_changed, name_changed, moved, account_action, verification_status,
            enrolment_action, enrolment_id, _json(before) if before else None, _json(after) if after else None,
            row.account_opened,
        ))
    return plan


async def _apply(pg: Any, plan: _Plan, *, actor: str, role: str | None, upload_id: UUID,
                 request_id: str | None) -> None:
    """Set-based statements over the staged rows (the person first, then history, accounts, enrolments)."""
    await pg.execute("DROP TABLE IF EXISTS import_stage")  # an earlier import in the same transaction
    await pg.execute(_STAGE_DDL)
    await pg.copy_records_to_table(STAGE_TABLE, records=plan.records, columns=_STAGE_COLUMNS)
    reason = f"import {upload_id}"
    statements: list[tuple[str, tuple[Any, ...]]] = [
        # current_date below is the Việt Nam date, as the web's and the API's registrations use
        # (app.vietnam_time): an account replaced at 01:00 in Hà Nội ends that day, not the day before in UTC.
        ("SET LOCAL TimeZone = 'Asia/Ho_Chi_Minh'", ()),
        ("""INSERT INTO beneficiary (id, national_id, full_name, date_of_birth, sex, commune_code, address, phone,
                                      channel)
             SELECT beneficiary_id, national_id, full_name, date_of_birth, sex, commune_code, address, phone, channel
               FROM import_stage WHERE person_action = 'create' ORDER BY row_no""", ()),
        ("""INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, status_after, commune_after, reason,
                                            recorded_by)
             SELECT beneficiary_id, 'registered', current_date, 'active', commune_code, $1, $2
               FROM import_stage WHERE person_action = 'create' ORDER BY row_no""", (reason, actor)),
        ("""UPDATE beneficiary b
                SET full_name = s.full_name, address = s.address, phone = s.phone, channel = s.channel,
                    updated_at = now()
               FROM import_stage s WHERE s.fields_changed AND b.id = s.beneficiary_id""", ()),
        ("""INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, from_commune, to_commune,
                                            status_after, commune_after, reason, recorded_by)
             SELECT s.beneficiary_id, 'moved', current_date, b.commune_code, s.commune_code, b.status,
                    s.commune_code, $1, $2
               FROM import_stage s JOIN beneficiary b ON b.id = s.beneficiary_id
              WHERE s.moved ORDER BY s.row_no""", (reason, actor)),
        ("""UPDATE bank_account a SET effective_to = current_date
               FROM import_stage s
              WHERE s.account_action = 'replace' AND a.beneficiary_id = s.beneficiary_id
                AND a.effective_to IS NULL""", ()),
        # A person's first account from the bank's opening date when the file gives one (a list moving
        # people from cash to the bank); a changed account from the import day (the old one ends today).
        ("""INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, verification_status,
                                       effective_from, created_by)
             SELECT s.beneficiary_id, s.bank_bin, s.account_number, s.holder_name, s.verification_status,
                    CASE WHEN s.account_action = 'insert' AND s.account_opened IS NOT NULL
                         THEN greatest(s.account_opened, (SELECT max(old.effective_to) FROM bank_account old
                                                           WHERE old.beneficiary_id = s.beneficiary_id))
                         ELSE current_date END, $1
               FROM import_stage s WHERE s.account_action IN ('insert', 'replace') ORDER BY s.row_no""", (actor,)),
        ("""UPDATE bank_account a
                SET verification_status = CASE
                        WHEN NOT holder_name_matches(s.full_name, a.holder_name) THEN 'name_mismatch'
                        WHEN a.verification_status = 'name_mismatch' THEN 'unverified'
                        ELSE a.verification_status END
               FROM import_stage s
              WHERE s.name_changed AND s.account_action = 'none' AND a.beneficiary_id = s.beneficiary_id
                AND a.effective_to IS NULL AND a.verification_status <> 'closed'""", ()),
        ("""UPDATE enrolment e
                SET coefficient = s.coefficient, decision_number = s.decision_number,
                    decision_date = coalesce(s.decision_date, e.decision_date), updated_at = now()
               FROM import_stage s WHERE s.enrolment_action = 'update' AND e.id = s.enrolment_id""", ()),
        ("""INSERT INTO enrolment (beneficiary_id, programme_code, category_code, coefficient, start_month,
                                    decision_number, decision_date, created_by)
             SELECT beneficiary_id, programme_code, category_code, coefficient, start_month, decision_number,
                    decision_date, $1
               FROM import_stage WHERE enrolment_action = 'insert' ORDER BY row_no""", (actor,)),
        ("""INSERT INTO audit_log (actor, actor_role, action, object_type, object_id, before, after, request_id)
             SELECT $1, $2, 'beneficiary.import_update', 'beneficiary', beneficiary_id::text, audit_before::jsonb,
                    audit_after::jsonb, $3
               FROM import_stage WHERE person_action = 'update' ORDER BY row_no""", (actor, role, request_id)),
    ]
    for statement, arguments in statements:
        await pg.execute(statement, *arguments)


async def import_beneficiaries(session: AsyncSession, *, content: bytes, filename: str,
                               principal: Principal | None) -> ImportOutcome:
    """Check and store an import file; on any error nothing is written and ``errors`` lists every problem.

    Applied imports are recorded (file kept, audit entries per changed person); a rejected one is not
    written here because the caller's transaction rolls back — see :func:`record_rejected_import`.
    """
    started = time.perf_counter()
    actor, role = actor_of(principal)
    outcome = ImportOutcome()
    try:
        table = read_table(content, filename)
    except FileRejected as exc:
        outcome.errors, outcome.readable = exc.errors, False
        return outcome
    outcome.timings["read"] = time.perf_counter() - started
    reference = await load_reference(session)
    rows, errors = check_rows(table, reference, principal, vietnam_today())
    outcome.rows = sum(1 for _ in table.data_rows())
    outcome.timings["check"] = time.perf_counter() - started
    pg = await _driver(session)
    await pg.execute("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK_KEY)
    existing = await _load_existing(pg, rows)
    holders = await _active_account_holders(pg, rows)
    blocked = await _blocked_numbers(pg)
    errors += _database_errors(table, rows, existing, holders, principal, blocked)
    if errors:
        outcome.errors = sorted(errors, key=lambda e: (e["row"] or 0))
        log.info("beneficiary_import_rejected", file=filename, rows=outcome.rows, errors=len(errors))
        return outcome
    enrolments = await _load_enrolments(pg, [e.id for e in existing.values()])
    plan = _plan(rows, existing, enrolments)
    if plan.updated_ids:
        # Lock only the people the file changes (API edits lock the same rows), then plan again if one
        # of them changed between the unlocked read and the lock.
        changing = [r for r in rows if r.national_id in set(plan.updated_ids)]
        locked = await _load_existing(pg, changing, lock=True)
        locked_enrolments = await _load_enrolments(pg, [e.id for e in locked.values()])
        if locked != {n: existing[n] for n in locked} or any(
                enrolments.get(key) != value for key, value in locked_enrolments.items()):
            existing.update(locked)
            enrolments.update(locked_enrolments)
            errors = _database_errors(table, changing, existing, await _active_account_holders(pg, changing),
                                      principal, blocked)
            if errors:
                outcome.errors = sorted(errors, key=lambda e: (e["row"] or 0))
                return outcome
            plan = _plan(rows, existing, enrolments)
    outcome.timings["compare"] = time.perf_counter() - started
    upload_id = uuid.uuid4()
    if plan.records:
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        try:
            await _apply(pg, plan, actor=actor, role=role, upload_id=upload_id, request_id=request_id)
        except asyncpg.UniqueViolationError:
            # Someone registered one of these people or accounts through the API during the import.
            raise Problem(409, bilingual("Danh sách vừa thay đổi trong lúc nhập; hãy nhập lại tệp",
                                         "The register changed during the import; import the file again")) from None
    outcome.timings["apply"] = time.perf_counter() - started
    outcome.created, outcome.updated, outcome.unchanged = plan.created, plan.updated, plan.unchanged
    outcome.name_mismatches = plan.name_mismatches
    outcome.upload_id = upload_id
    outcome.back_pay = await back_pay_limits(session, plan.new_enrolments)
    await _store_upload(session, upload_id=upload_id, content=content, filename=filename, actor=actor,
                        outcome=outcome)
    await record(session, actor=actor, actor_role=role, action="beneficiary.import", object_type="beneficiary_import",
                 object_id=upload_id, after={"file": filename, "rows": outcome.rows, "created": outcome.created,
                                             "updated": outcome.updated, "unchanged": outcome.unchanged})
    outcome.timings["total"] = time.perf_counter() - started
    log.info("beneficiary_import_applied", file=filename, rows=outcome.rows, created=outcome.created,
             updated=outcome.updated, unchanged=outcome.unchanged, seconds=round(outcome.timings["total"], 2))
    return outcome


async def back_pay_limits(session: AsyncSession, new_enrolments: list[tuple[str, date]]) -> list[dict[str, Any]]:
    """Per programme, the enrolments added that start before the month its next run pays back pay from: the
    months before it are not paid (a late enrolment's back pay reaches 12 months back). Said on the import's
    answer, so an officer importing a start month of long ago learns it then, not from the run."""
    from app.payouts.service.back_pay import next_back_pay  # payouts builds on the registry, not the reverse
    from app.payouts.service.runs import format_period

    by_programme: dict[str, list[date]] = {}
    for programme, start in new_enrolments:
        by_programme.setdefault(programme, []).append(start)
    limits = []
    for programme, starts in sorted(by_programme.items()):
        back_pay = await next_back_pay(session, programme)
        early = [start for start in starts if back_pay is not None and start < back_pay.paid_from]
        if back_pay is None or not early:
            continue
        earliest = min(early)
        # The API's fields keep YYYY-MM; the messages staff read say months as they write them (12/2026).
        paid_from, period = month_text(back_pay.paid_from), month_text(back_pay.next_period)
        enrolments_en = (f"1 new {programme} enrolment starts" if len(early) == 1
                         else f"{len(early)} new {programme} enrolments start")
        limits.append({
            "programme": programme, "enrolments": len(early), "earliest_start": format_period(earliest),
            "next_period": format_period(back_pay.next_period), "paid_from": format_period(back_pay.paid_from),
            "message": f"{len(early)} quyết định hưởng {programme} mới có tháng bắt đầu trước {paid_from} (sớm nhất "
                       f"{month_text(earliest)}): đợt chi tới (kỳ {period}) chỉ trả bù từ tháng {paid_from}; "
                       "các tháng trước đó không được chi (ansinh trả bù tối đa 12 tháng và không trước đợt chi "
                       "đầu tiên của chương trình)",
            "message_en": f"{enrolments_en} before {paid_from} (the earliest {month_text(earliest)}): the next run "
                          f"({period}) pays back pay from {paid_from} on; earlier months are not paid (ansinh pays "
                          "at most 12 months of back pay, and nothing before the programme's first run)",
        })
    return limits


async def _store_upload(session: AsyncSession, *, upload_id: UUID, content: bytes, filename: str, actor: str,
                        outcome: ImportOutcome) -> None:
    session.add(BeneficiaryImport(
        id=upload_id, filename=filename[:255], size_bytes=len(content), sha256=hashlib.sha256(content).digest(),
        content=content, uploaded_by=actor, outcome="applied" if outcome.applied else "rejected",
        row_count=outcome.rows, created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged,
        errors=outcome.errors,
    ))
    await session.flush()


async def record_rejected_import(session: AsyncSession, *, content: bytes, filename: str,
                                 principal: Principal | None, outcome: ImportOutcome) -> UUID:
    """Keep a rejected upload and its errors (in the caller's own transaction) for audit and the error copy."""
    actor, role = actor_of(principal)
    upload_id = uuid.uuid4()
    await _store_upload(session, upload_id=upload_id, content=content, filename=filename, actor=actor,
                        outcome=outcome)
    await record(session, actor=actor, actor_role=role, action="beneficiary.import_rejected",
                 object_type="beneficiary_import", object_id=upload_id,
                 after={"file": filename, "rows": outcome.rows, "errors": len(outcome.errors)})
    outcome.upload_id = upload_id
    return upload_id


def rejection_problem(outcome: ImportOutcome) -> Problem:
    """The 422 answer for a rejected import, with every bad row and the link to the annotated copy."""
    bad_rows = len({e["row"] for e in outcome.errors if e.get("row") is not None})
    if outcome.readable and bad_rows:
        detail = bilingual(f"Có {bad_rows} dòng lỗi; chưa lưu dòng nào. Tải bản có cột lỗi, sửa và gửi lại",
                           f"{counted(bad_rows, 'row has', 'rows have')} errors; nothing was stored. Download the "
                           "copy with an error "
                           "column, fix and upload again")
    else:
        first = outcome.errors[0] if outcome.errors else {"message": "", "message_en": ""}
        detail = bilingual(f"Không nhập được tệp: {first['message']}",
                           f"The file cannot be imported: {first['message_en']}")
    extra: dict[str, Any] = {"upload_id": str(outcome.upload_id) if outcome.upload_id else None,
                             "bad_rows": bad_rows}
    if outcome.readable and outcome.upload_id is not None:
        extra["error_file"] = f"/api/beneficiaries/imports/{outcome.upload_id}/errors"
    return Problem(422, detail, errors=outcome.errors, extra=extra)


async def error_copy(session: AsyncSession, upload_id: UUID, principal: Principal | None) -> tuple[str, str, bytes]:
    """(file name, media type, content): the uploaded sheet with a "Lỗi / Errors" column added."""
    upload = await session.get(BeneficiaryImport, upload_id)
    actor, _ = actor_of(principal)
    if upload is None or upload.uploaded_by != actor:
        raise Problem(404, bilingual("Không tìm thấy tệp đã tải lên", "Upload not found"))
    try:
        table = read_table(upload.content, upload.filename)
    except FileRejected:
        raise Problem(409, bilingual("Tệp không đọc được nên không có bản kèm cột lỗi",
                                     "The file could not be read, so there is no copy with errors")) from None
    messages: dict[int, list[str]] = {}
    for error in upload.errors:
        if error.get("row") is not None:
            messages.setdefault(int(error["row"]), []).append(
                f"{error['column']}: {error['message']} / {error['message_en']}")
    width = max((len(row) for row in table.cells), default=0)
    out_rows: list[list[Any]] = []
    for index, cells in enumerate(table.cells):
        padded = list(cells) + [None] * (width - len(cells))
        if index == table.header_index:
            padded.append(ERRORS_HEADER)
        elif index > table.header_index:
            padded.append("; ".join(messages.get(index + 1, [])) or None)
        out_rows.append(padded)
    stem = upload.filename.rsplit(".", 1)[0] or "import"
    if table.kind == "csv":
        return f"{stem}-loi.csv", "text/csv", rows_csv(out_rows)  # the response adds "; charset=utf-8"
    return (f"{stem}-loi.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            rows_xlsx(out_rows, title=table.sheet_name or "Sheet1"))
