"""Import a bank statement file: check it, keep it, match its lines and apply them to payouts and the ledger.

Everything of one file happens in the caller's transaction: the upload row, the statements, their
lines, the ledger posts/voids/reversals, the payout status changes and the audit entry commit or roll
back together, so a crash half-way leaves nothing and a rerun applies the file exactly once. The
database refuses a second acceptance of the same file (SHA-256), bank statement id or statement content
(``reconciliation.fingerprint``: the same statement in another format, a CSV saved again as xlsx), and a
second credit or return of a payout (``statement_match`` primary key). A rejected file is kept (status
``rejected``) with its reasons, and nothing of it is applied.
"""

from __future__ import annotations

import hashlib
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

import msgspec
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.http.problems import bilingual
from app.memory import cyclic_gc_paused
from app.payouts.accounts import bank_disbursement_account, payable_account
from app.payouts.references import parse_reference
from app.payouts.service.ledger_steps import payout_transfer_id
from app.payouts.service.settlement import settle_runs
from app.payouts.service.usage import tracking_usage
from ledger.accounts import ensure_accounts
from ledger.driver import driver_connection
from ledger.schemas import APPLIED_RESULTS, TransferKind
from ledger.service import create_transfer_arrays
from reconciliation.checks import (
    PreviousStatement,
    in_file_order,
    repeated_bank_references,
    statement_errors,
    statement_gap,
)
from reconciliation.fingerprint import statement_fingerprint
from reconciliation.matching import (
    ACCOUNT_UNUSABLE_REASONS,
    DECEASED_REASON,
    EXCEPTION_REASONS,
    Candidates,
    FundingCandidate,
    LineDecision,
    Matcher,
    PayoutCandidate,
    line_references,
    normalise_account,
    summarise,
)
from reconciliation.parsers import Statement, StatementLine, StatementParseError, parse_statement_file
from reconciliation.parsers.errors import MAX_LISTED_ROW_ERRORS, RowError, row_error
from reconciliation.parsers.model import LOCAL_TIMEZONE
from reconciliation.withdrawals import note_changes, reallocate_noted

log = structlog.get_logger()

DRY_RUN_LISTED_LINES = 10_000
LINE_COPY_COLUMNS = ("statement_id", "line_no", "bank_bin", "booking_date", "value_date", "booked_at", "amount",
                     "bank_reference", "end_to_end_ref", "counterparty_account", "counterparty_name", "description",
                     "return_reason", "is_reversal", "status", "rule", "exception_reason", "payout_count",
                     "funding_id")


ALREADY_IMPORTED_VI = "Tệp này đã được nhập trước đó ({statements}); không ghi nhận gì thêm"
ALREADY_IMPORTED_EN = "this file was already imported ({statements}); nothing new was applied"
SAME_CONTENT_VI = ("Sao kê này đã được nhập trước đó ({statements}): cùng tài khoản, kỳ, số dư và các dòng, dù "
                   "tệp khác định dạng; không ghi nhận gì thêm")
SAME_CONTENT_EN = ("this statement was already imported ({statements}): the same account, period, balances and lines, "
                   "in a file of another format; nothing new was applied")
# The same statement content in a file of the same format that is not byte for byte the same file (a
# description or another field the fingerprint leaves out differs).
SAME_CONTENT_SAME_FORMAT_VI = ("Nội dung sao kê này đã được nhập trước đó ({statements}): cùng tài khoản, kỳ, số dư "
                               "và các giao dịch (ngày, số tiền, mã giao dịch của ngân hàng), tệp chỉ khác ở phần "
                               "khác như nội dung diễn giải; không ghi nhận gì thêm")
SAME_CONTENT_SAME_FORMAT_EN = ("this statement's content was already imported ({statements}): the same account, "
                               "period, balances and transactions (dates, amounts, bank references); the file differs "
                               "only elsewhere, a description for instance; nothing new was applied")
REPEATED_IN_FILE_VI = "Tệp có cùng một sao kê {count} lần (sao kê thứ {positions}); không có dòng nào được ghi nhận"
REPEATED_IN_FILE_EN = "the file holds the same statement {count} times (statements {positions}); nothing was applied"
REUSED_ID_VI = ("Mã sao kê {ids} đã được nhập trước đó với nội dung khác; các dòng của sao kê đó trong tệp này không "
                "được ghi nhận. Nếu đây là sao kê điều chỉnh, ngân hàng cần gửi với mã sao kê mới; tệp đã được lưu lại")
REUSED_ID_EN = ("statement id {ids} was imported before with other content; that statement's lines in this file "
                "were not applied. A corrected statement needs a new statement id; the file was kept")


def statements_named(statements: list[dict[str, Any]]) -> str:
    """Statements as staff know them, by file and period ("sao-ke-03.csv, 09/03/2026 – 09/03/2026"), never by
    the internal id (sha256:…:1 for a CSV); the API's answer keeps the ids in their own fields."""

    def day(value: date | None) -> str:
        return f"{value:%d/%m/%Y}" if value else "—"

    def name(statement: dict[str, Any]) -> str:
        bank_id = str(statement.get("bank_statement_id") or "")
        return statement.get("filename") or (bank_id if bank_id and not bank_id.startswith("sha256:") else "—")

    return "; ".join(f"{name(s)}, {day(s.get('opening_date'))} – {day(s.get('closing_date'))}"
                     for s in statements)


@dataclass
class ImportOutcome:
    """What an import did. ``kind``: created, existing, rejected, forbidden or dry_run."""

    kind: str
    upload_id: UUID | None = None
    statements: list[dict[str, Any]] = field(default_factory=list)
    message_vi: str = ""
    message_en: str = ""
    errors: list[RowError] = field(default_factory=list)
    total_errors: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)  # dry run: what each line would do
    dry_run: bool = False  # asked for a dry run (an already imported file is "existing" either way)
    content_differs: bool = False  # existing: the statement ids were imported before, from another file
    # existing: how the earlier import was recognised — "file" (SHA-256), "statement_id" or "content" (fingerprint)
    already_imported_by: str | None = None
    other_format: bool = False  # existing by content: the earlier import came in a file of another format

    @property
    def statement_id(self) -> str | None:
        return self.statements[0]["id"] if self.statements else None

    def totals(self) -> dict[str, int]:
        keys = ("lines", "matched", "returned", "exceptions", "duplicates", "funding", "payouts_credited")
        return {key: sum(int(s.get(key, 0)) for s in self.statements) for key in keys}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"statement_id": self.statement_id, "upload_id": self.upload_id,
                                "created": self.kind == "created",
                                "dry_run": self.dry_run or self.kind == "dry_run",
                                "already_imported": self.kind == "existing",
                                **self.totals(), "statements": self.statements}
        if self.kind == "existing":
            body["already_imported_by"] = self.already_imported_by
            named = statements_named([s for s in self.statements if s.get("existing")])
            body["message"] = (f"{ALREADY_IMPORTED_VI.format(statements=named)} / "
                               f"{ALREADY_IMPORTED_EN.format(statements=named)}")
            if self.already_imported_by == "content":
                body["message"] = f"{self.message_vi} / {self.message_en}"
        if self.kind in ("existing", "created", "dry_run"):
            body["content_differs"] = self.content_differs
        if self.content_differs:
            body["message"] = f"{self.message_vi} / {self.message_en}"
        if self.kind == "dry_run":
            body["results"] = self.lines
        return body


def booking_moment(line: StatementLine) -> datetime:
    """When the bank booked a line: its time if given, else the start of its booking day in Việt Nam."""
    return line.booked_at or datetime.combine(line.booking_date, time(0, 0), LOCAL_TIMEZONE)


def not_before(moment: datetime, day_only: bool, *earlier: datetime | None) -> datetime:
    """A line that gave only its booking day is dated at that day's start, which can be before the payout
    left (or arrived): money cannot arrive or come back before that, so such a moment is raised to the
    latest of ``earlier``. A line with its own time keeps the bank's time."""
    if not day_only:
        return moment
    return max([moment, *(at for at in earlier if at is not None)])


def _statement_key(statement: Statement, sha256: bytes, position: int) -> str:
    return statement.statement_id or f"sha256:{sha256.hex()[:32]}:{position}"


async def _store_upload(session: AsyncSession, *, bank_bin: str, filename: str | None, data: bytes, sha256: bytes,
                        file_format: str | None, actor: str, rejection: dict[str, Any] | None) -> UUID:
    upload_id = await session.scalar(text(
        """INSERT INTO statement_upload (bank_bin, filename, sha256, size, content, format, status, rejection,
                                         uploaded_by)
           VALUES (:bank, :filename, :sha, :size, :content, :format, :status, CAST(:rejection AS jsonb), :actor)
           RETURNING id"""),
        {"bank": bank_bin, "filename": (filename or "")[:255] or None, "sha": sha256, "size": len(data),
         "content": data, "format": file_format, "status": "rejected" if rejection else "accepted",
         "rejection": msgspec.json.encode(rejection).decode() if rejection else None, "actor": actor})
    assert upload_id is not None
    return upload_id


async def _same_statement(session: AsyncSession, bank_bin: str, key: str, statement: Statement) -> bool:
    """Whether the statement imported under ``key`` has this statement's balances, line count and totals (the
    same statement, perhaps from a file of another format)."""
    credits = sum(line.amount for line in statement.lines if line.amount > 0)
    debits = -sum(line.amount for line in statement.lines if line.amount < 0)
    same = await session.scalar(text(
        """SELECT opening_balance = :opening AND closing_balance = :closing AND line_count = :lines
                  AND credit_total = :credits AND debit_total = :debits
             FROM bank_statement WHERE bank_bin = :bank AND statement_id = :key"""),
        {"opening": statement.opening_balance, "closing": statement.closing_balance, "lines": len(statement.lines),
         "credits": credits, "debits": debits, "bank": bank_bin, "key": key})
    return bool(same)


async def _existing(session: AsyncSession, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements imported before, with the counts their import answered (``summarise``), read from the stored
    lines: a line the import left as an exception keeps its ``exception_reason`` when an officer resolves it
    (its status and rule change), a matched or returned line keeps its status, so a repeated upload's answer
    says what the first one said whatever was resolved since."""
    rows = await session.execute(text(
        f"""SELECT s.id, s.statement_id, s.account, s.format, s.line_count, s.bank_bin, s.gap, s.opening_date,
                   s.closing_date, u.filename,
                   count(l.id) FILTER (WHERE l.exception_reason IS NULL AND l.status = 'matched') AS matched,
                   count(l.id) FILTER (WHERE l.exception_reason IS NULL AND l.status = 'returned') AS returned,
                   count(l.id) FILTER (WHERE l.exception_reason IS NOT NULL) AS exceptions,
                   count(l.id) FILTER (WHERE l.exception_reason = 'duplicate') AS duplicates,
                   count(l.id) FILTER (WHERE l.exception_reason IS NULL AND l.rule = 'funding') AS funding,
                   coalesce(sum(l.payout_count) FILTER (WHERE l.exception_reason IS NULL AND l.status = 'matched'),
                            0) AS payouts_credited
              FROM bank_statement s JOIN statement_upload u ON u.id = s.upload_id
                   LEFT JOIN statement_line l ON l.statement_id = s.id
             WHERE {where} GROUP BY s.id, u.filename ORDER BY s.position"""), params)  # noqa: S608 - fixed fragments
    return [{"id": str(r.id), "bank_statement_id": r.statement_id, "account": r.account, "format": r.format,
             "bank_bin": r.bank_bin, "lines": r.line_count, "matched": r.matched, "returned": r.returned,
             "exceptions": r.exceptions, "duplicates": r.duplicates, "funding": r.funding,
             "payouts_credited": int(r.payouts_credited), "gap": r.gap, "filename": r.filename,
             "opening_date": r.opening_date, "closing_date": r.closing_date, "existing": True} for r in rows]


async def _account_owners(session: AsyncSession, accounts: set[str]) -> dict[str, str]:
    rows = await session.execute(text(
        "SELECT account_number, bank_bin FROM disbursement_account WHERE account_number = ANY(:accounts)"),
        {"accounts": sorted(accounts)})
    return {r.account_number: r.bank_bin for r in rows}


async def import_statement_file(session: AsyncSession, *, data: bytes, filename: str | None, bank_bin: str,
                                actor: str, dry_run: bool = False) -> ImportOutcome:
    """Check, keep and apply a statement file of ``bank_bin``'s disbursement account (see the module doc)."""
    with cyclic_gc_paused():  # a million lines, candidates and decisions
        outcome = await _import_file(session, data=data, filename=filename, bank_bin=bank_bin, actor=actor,
                                     dry_run=dry_run)
    outcome.dry_run = dry_run
    return outcome


async def _import_file(session: AsyncSession, *, data: bytes, filename: str | None, bank_bin: str, actor: str,
                       dry_run: bool) -> ImportOutcome:
    started = clock.perf_counter()
    sha256 = hashlib.sha256(data).digest()
    if not dry_run:
        # One import per bank at a time: duplicate checks and matching see every earlier import.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                              {"key": f"statement_import:{bank_bin}"})
    # This bank's imports only: another bank's file goes through the account check below and is refused as
    # any statement of an account not the bank's is, whether or not its bank has imported it (saying "another
    # bank has it" would tell the caller the file is in the system).
    same_file = await _existing(session, "s.sha256 = :sha AND s.bank_bin = :bank", {"sha": sha256, "bank": bank_bin})
    if same_file:
        return ImportOutcome("existing", statements=same_file, already_imported_by="file")

    async def reject(kind: str, vi: str, en: str, errors: list[RowError], total: int | None = None,
                     file_format: str | None = None) -> ImportOutcome:
        upload_id = None
        if not dry_run:
            upload_id = await _store_upload(
                session, bank_bin=bank_bin, filename=filename, data=data, sha256=sha256, file_format=file_format,
                actor=actor, rejection={"message": vi, "message_en": en, "errors": errors[:100]})
            await record(session, actor=actor, action="statement.reject", object_type="statement_upload",
                         object_id=upload_id,
                         after={"bank_bin": bank_bin, "filename": filename, "reason": bilingual(vi, en)})
        log.info("statement_rejected", bank=bank_bin, filename=filename, reason=en, dry_run=dry_run)
        return ImportOutcome(kind, upload_id=upload_id, message_vi=vi, message_en=en, errors=errors,
                             total_errors=total if total is not None else len(errors))

    try:
        parsed = parse_statement_file(data, filename)
    except StatementParseError as exc:
        return await reject("rejected", exc.message_vi, exc.message_en, exc.errors, exc.total_errors)
    file_format = ",".join(sorted({s.source_format for s in parsed})) or None
    if not parsed:
        return await reject("rejected", "Tệp không có sao kê nào", "the file holds no statement", [],
                            file_format=file_format)

    owners = await _account_owners(session, {normalise_account(s.account) for s in parsed})
    foreign = [s.account for s in parsed if owners.get(normalise_account(s.account), bank_bin) != bank_bin]
    if foreign:
        return await reject("forbidden", f"Tài khoản {', '.join(foreign)} không phải tài khoản chi của ngân hàng này",
                            f"account {', '.join(foreign)} is not this bank's disbursement account", [],
                            file_format=file_format)
    errors: list[RowError] = []
    for position, statement in enumerate(parsed, start=1):
        if normalise_account(statement.account) not in owners:
            errors.append(row_error(None, "account",
                                    f"Tài khoản {statement.account} không phải tài khoản chi đã đăng ký của ngân hàng",
                                    f"account {statement.account} is not the bank's registered disbursement account"))
        errors.extend(statement_errors(statement, position))
    errors = in_file_order([*errors, *repeated_bank_references(parsed)])
    if errors:
        return await reject("rejected", "Sao kê không hợp lệ, không có dòng nào được ghi nhận",
                            "the statement is invalid; nothing was applied", errors[:MAX_LISTED_ROW_ERRORS],
                            total=len(errors), file_format=file_format)

    fingerprints = [statement_fingerprint(bank_bin, statement) for statement in parsed]
    repeated = [position for position, fingerprint in enumerate(fingerprints, start=1)
                if fingerprints.count(fingerprint) > 1]
    if repeated:
        positions = ", ".join(map(str, repeated))
        return await reject("rejected", REPEATED_IN_FILE_VI.format(count=len(repeated), positions=positions),
                            REPEATED_IN_FILE_EN.format(count=len(repeated), positions=positions), [],
                            file_format=file_format)

    fresh: list[tuple[int, Statement, bytes]] = []
    already: list[dict[str, Any]] = []
    same_content: list[dict[str, Any]] = []
    differs = other_format = False
    for position, (statement, fingerprint) in enumerate(zip(parsed, fingerprints, strict=True), start=1):
        # The same statement in any format (a CSV saved again as xlsx has no statement id to tell it by).
        found = await _existing(session, "s.bank_bin = :bank AND s.fingerprint = :fingerprint AND s.duplicate_of IS NULL",
                                {"bank": bank_bin, "fingerprint": fingerprint})
        if found:
            already.extend(found)
            same_content.extend(found)
            other_format = other_format or any(s["format"] != statement.source_format for s in found)
            continue
        key = _statement_key(statement, sha256, position)
        found = await _existing(session, "s.bank_bin = :bank AND s.statement_id = :sid", {"bank": bank_bin, "sid": key})
        if found:
            already.extend(found)
            differs = differs or not await _same_statement(session, bank_bin, key, statement)
        else:
            fresh.append((position, statement, fingerprint))
    if not fresh and differs:
        # Another statement (not the same one in another format: its balances, lines or totals differ) under
        # statement ids already imported: nothing of it is applied, as for the same file again, but it is kept
        # and the bank is told the content differs.
        ids = ", ".join(sorted({str(s["bank_statement_id"]) for s in already}))
        vi, en = REUSED_ID_VI.format(ids=ids), REUSED_ID_EN.format(ids=ids)
        upload_id = None
        if not dry_run:
            upload_id = await _store_upload(
                session, bank_bin=bank_bin, filename=filename, data=data, sha256=sha256, file_format=file_format,
                actor=actor, rejection={"message": vi, "message_en": en, "reason": "statement_id_reused",
                                        "statements": [s["id"] for s in already], "errors": []})
            await record(session, actor=actor, action="statement.reused_id", object_type="statement_upload",
                         object_id=upload_id, after={"bank_bin": bank_bin, "filename": filename,
                                                     "statements": [s["id"] for s in already]})
        log.warning("statement_id_reused", bank=bank_bin, filename=filename, statements=ids, dry_run=dry_run)
        return ImportOutcome("existing", upload_id=upload_id, statements=already, message_vi=vi, message_en=en,
                             content_differs=True, already_imported_by="statement_id")
    if not fresh:
        if not same_content:
            return ImportOutcome("existing", statements=already, already_imported_by="statement_id")
        names = statements_named(same_content)
        log.info("statement_already_imported", bank=bank_bin, filename=filename, by="content",
                 statements=[s["id"] for s in same_content], dry_run=dry_run)
        vi, en = ((SAME_CONTENT_VI, SAME_CONTENT_EN) if other_format
                  else (SAME_CONTENT_SAME_FORMAT_VI, SAME_CONTENT_SAME_FORMAT_EN))
        return ImportOutcome("existing", statements=already, already_imported_by="content",
                             message_vi=vi.format(statements=names), message_en=en.format(statements=names),
                             other_format=other_format)

    upload_id = None
    if not dry_run:
        upload_id = await _store_upload(session, bank_bin=bank_bin, filename=filename, data=data, sha256=sha256,
                                        file_format=file_format, actor=actor, rejection=None)
    outcome = ImportOutcome("dry_run" if dry_run else "created", upload_id=upload_id)
    if differs:  # the file's other statements reuse imported ids with other content: said, not applied
        ids = ", ".join(sorted({str(s["bank_statement_id"]) for s in already}))
        outcome.content_differs = True
        outcome.message_vi, outcome.message_en = REUSED_ID_VI.format(ids=ids), REUSED_ID_EN.format(ids=ids)
    for position, statement, fingerprint in fresh:
        summary, decisions = await _import_statement(session, statement, position=position, bank_bin=bank_bin,
                                                     sha256=sha256, fingerprint=fingerprint, upload_id=upload_id,
                                                     actor=actor, dry_run=dry_run)
        outcome.statements.append({**summary, "filename": filename})
        if dry_run:
            outcome.lines.extend(_dry_run_lines(statement, decisions, len(outcome.lines)))
    outcome.statements.extend(already)
    if not dry_run:
        await record(session, actor=actor, action="statement.import", object_type="statement_upload",
                     object_id=upload_id, after={"bank_bin": bank_bin, "filename": filename, **outcome.totals(),
                                                 "statements": [s["id"] for s in outcome.statements]})
    log.info("statement_imported", bank=bank_bin, filename=filename, dry_run=dry_run, **outcome.totals(),
             seconds=round(clock.perf_counter() - started, 3))
    return outcome


def _dry_run_lines(statement: Statement, decisions: list[LineDecision], listed: int) -> list[dict[str, Any]]:
    room = max(0, DRY_RUN_LISTED_LINES - listed)
    return [{"statement": statement.statement_id, "line_no": d.line_no, "amount": line.amount, "status": d.status,
             "rule": d.rule, "exception_reason": d.exception_reason, "payouts_credited": [str(p) for p in d.credits],
             "payouts_returned": [str(p) for p, _ in d.returns], "return_reason": d.return_reason,
             "funding_id": str(d.funding_id) if d.funding_id else None}
            for line, d in zip(statement.lines[:room], decisions[:room], strict=True)]


# --- candidates --------------------------------------------------------------------------------------
PAYOUT_COLUMNS = """p.id, p.reference, p.bank_bin, p.account_number, p.amount, p.status, p.run_id,
                     (p.sent_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS sent_on, p.beneficiary_id,
                     p.sent_at, p.credited_at"""


def payout_candidate(row: Any) -> PayoutCandidate:
    return PayoutCandidate(id=row.id, reference=row.reference, bank_bin=row.bank_bin,
                           account_number=row.account_number, amount=row.amount, state=row.status,
                           run_id=row.run_id, sent_on=row.sent_on, beneficiary_id=row.beneficiary_id,
                           sent_at=row.sent_at, credited_at=row.credited_at)


async def load_candidates(session: AsyncSession, bank_bin: str, lines: tuple[StatementLine, ...], *,
                          lock: bool, line_refs: list[str | None] | None = None,
                          ) -> tuple[Candidates, dict[UUID, PayoutCandidate]]:
    """The payouts and funding the lines may match, loaded set-based (locked when ``lock``);
    ``line_refs``: each line's payout reference (``line_references``), if the caller has them."""
    candidates = Candidates(bank_bin=bank_bin)
    by_id: dict[UUID, PayoutCandidate] = {}
    lock_clause = " FOR UPDATE OF p" if lock else ""

    def keep(row: Any) -> PayoutCandidate:
        existing = by_id.get(row.id)
        if existing is None:
            existing = by_id[row.id] = payout_candidate(row)
        return existing

    references: set[str] = set()
    unreferenced_debits: list[StatementLine] = []
    unreferenced_credits: list[StatementLine] = []
    if line_refs is None:
        line_refs = [line_references(line, parse_reference) for line in lines]
    for line, reference in zip(lines, line_refs, strict=True):
        if reference:
            references.add(reference)
        elif line.amount < 0:
            unreferenced_debits.append(line)
        else:
            unreferenced_credits.append(line)
    if references:
        driver = await driver_connection(session)
        records = await driver.fetch(
            f"SELECT {PAYOUT_COLUMNS} FROM payout p WHERE p.reference = ANY($1::text[]) ORDER BY p.id{lock_clause}",  # noqa: S608
            list(references))
        for record_ in records:
            candidate = PayoutCandidate(*record_.values())
            by_id.setdefault(candidate.id, candidate)
            candidates.by_reference[candidate.reference] = by_id[candidate.id]
    accounts = {normalise_account(line.counterparty_account) for line in unreferenced_debits + unreferenced_credits
                if line.counterparty_account}
    if accounts:
        rows = await session.execute(text(
            f"""SELECT {PAYOUT_COLUMNS} FROM payout p
                 WHERE p.bank_bin = :bank AND p.account_number = ANY(:accounts) AND p.status IN ('sent', 'credited')
                 ORDER BY p.id{lock_clause}"""), {"bank": bank_bin, "accounts": sorted(accounts)})  # noqa: S608
        for row in rows:
            candidate = keep(row)
            candidates.by_account.setdefault(row.account_number, []).append(candidate)
    debit_amounts = sorted({-line.amount for line in unreferenced_debits})
    if debit_amounts:
        runs = await session.execute(text(
            """SELECT run_id, sum(amount)::bigint AS total FROM payout
                WHERE bank_bin = :bank AND status = 'sent' GROUP BY run_id HAVING sum(amount) = ANY(:amounts)"""),
            {"bank": bank_bin, "amounts": debit_amounts})
        totals = {r.run_id: int(r.total) for r in runs}
        if totals:
            rows = await session.execute(text(
                f"""SELECT {PAYOUT_COLUMNS} FROM payout p
                     WHERE p.bank_bin = :bank AND p.status = 'sent' AND p.run_id = ANY(:runs)
                     ORDER BY p.id{lock_clause}"""), {"bank": bank_bin, "runs": list(totals)})  # noqa: S608
            batches: dict[UUID, list[PayoutCandidate]] = {}
            for row in rows:
                batches.setdefault(row.run_id, []).append(keep(row))
            for run_id, batch in batches.items():
                candidates.batches.setdefault(totals[run_id], []).append(batch)
    if unreferenced_credits:
        rows = await session.execute(text(
            """SELECT f.id, f.amount, f.reference, f.value_date FROM funding f
                WHERE f.bank_bin = :bank AND f.amount = ANY(:amounts)
                  AND NOT EXISTS (SELECT 1 FROM statement_line l WHERE l.funding_id = f.id)
                  AND NOT EXISTS (SELECT 1 FROM funding_reversal v WHERE v.funding_id = f.id)
                ORDER BY f.value_date, f.id"""),
            {"bank": bank_bin, "amounts": sorted({line.amount for line in unreferenced_credits})})
        candidates.fundings = [FundingCandidate(id=r.id, amount=r.amount, reference=r.reference,
                                                value_date=r.value_date) for r in rows]
    if by_id:  # each payout's earliest booking day, from its run's period (a few runs: one small query)
        earliest: dict[UUID, date] = dict((await session.execute(text(
            "SELECT id, (period - interval '1 month')::date FROM payout_run WHERE id = ANY(:runs)"),
            {"runs": list({candidate.run_id for candidate in by_id.values()})})).all())
        for candidate in by_id.values():
            candidate.earliest_on = earliest.get(candidate.run_id)
    return candidates, by_id


async def _previous_statement(session: AsyncSession, bank_bin: str, account: str,
                              statement: Statement) -> PreviousStatement | None:
    row = (await session.execute(text(
        """SELECT id, statement_id, closing_balance, closing_date FROM bank_statement
            WHERE bank_bin = :bank AND account = :account
              AND (CAST(:opening AS date) IS NULL OR closing_date IS NULL OR closing_date <= :opening)
            ORDER BY closing_date DESC NULLS LAST, uploaded_at DESC LIMIT 1"""),
        {"bank": bank_bin, "account": account, "opening": statement.opening_date})).first()
    if row is None:
        return None
    return PreviousStatement(id=row.id, statement_id=row.statement_id, closing_balance=row.closing_balance,
                             closing_date=row.closing_date)


# --- one statement ------------------------------------------------------------------------------------
async def _import_statement(session: AsyncSession, statement: Statement, *, position: int, bank_bin: str,
                            sha256: bytes, fingerprint: bytes, upload_id: UUID | None, actor: str,
                            dry_run: bool) -> tuple[dict[str, Any], list[LineDecision]]:
    account = normalise_account(statement.account)
    statement_key = _statement_key(statement, sha256, position)
    previous = await _previous_statement(session, bank_bin, account, statement)
    gap = statement_gap(previous, statement)
    mark = clock.perf_counter()
    # No row locks: the bank's advisory lock orders imports, and the payout UPDATEs below re-check each
    # status under their row lock (a payout changed meanwhile aborts the whole import).
    line_refs = [line_references(line, parse_reference) for line in statement.lines]
    candidates, by_id = await load_candidates(session, bank_bin, statement.lines, lock=False, line_refs=line_refs)
    loaded = clock.perf_counter()
    decisions = Matcher(candidates, parse_reference).decide_all(statement.lines, line_refs)
    log.debug("statement_matched", lines=len(statement.lines), load_seconds=round(loaded - mark, 3),
              match_seconds=round(clock.perf_counter() - loaded, 3))
    summary: dict[str, Any] = {"id": None, "bank_statement_id": statement_key, "account": account,
                               "format": statement.source_format, "bank_bin": bank_bin, **summarise(decisions),
                               "gap": gap, "opening_date": statement.opening_date,
                               "closing_date": statement.closing_date, "existing": False}
    if dry_run:
        return summary, decisions
    credits = sum(line.amount for line in statement.lines if line.amount > 0)
    statement_row_id = await session.scalar(text(
        """INSERT INTO bank_statement (upload_id, position, bank_bin, account, statement_id, sha256, format, currency,
                                       opening_balance, closing_balance, opening_date, closing_date, line_count,
                                       credit_total, debit_total, previous_statement, gap, uploaded_by, fingerprint)
           VALUES (:upload, :position, :bank, :account, :sid, :sha, :format, 'VND', :opening, :closing,
                   :opening_date, :closing_date, :count, :credits, :debits, :previous, CAST(:gap AS jsonb), :actor,
                   :fingerprint)
           RETURNING id"""),
        {"upload": upload_id, "position": position, "bank": bank_bin, "account": account, "sid": statement_key,
         "sha": sha256, "format": statement.source_format, "opening": statement.opening_balance,
         "closing": statement.closing_balance, "opening_date": statement.opening_date,
         "closing_date": statement.closing_date, "count": len(statement.lines), "credits": credits,
         "debits": credits - statement.line_total, "previous": previous.id if previous else None,
         "gap": msgspec.json.encode(gap).decode() if gap else None, "actor": actor, "fingerprint": fingerprint})
    assert statement_row_id is not None
    summary["id"] = str(statement_row_id)
    await apply_decisions(session, statement_row_id, bank_bin, statement.lines, decisions, by_id, actor=actor)
    return summary, decisions


async def apply_decisions(session: AsyncSession, statement_row_id: UUID, bank_bin: str,
                          lines: tuple[StatementLine, ...], decisions: list[LineDecision],
                          by_id: dict[UUID, PayoutCandidate], *, actor: str) -> None:
    """Write the lines with their outcome, post/void/reverse the ledger, update payouts, flag MD07 returns,
    settle the runs left with nothing in flight."""
    driver = await driver_connection(session)
    records = []
    for line, decision in zip(lines, decisions, strict=True):
        payouts = len(decision.credits) + len(decision.returns)
        records.append((
            statement_row_id, line.line_no, bank_bin, line.booking_date, line.value_date, line.booked_at, line.amount,
            line.bank_reference, line.end_to_end_ref, line.counterparty_account, line.counterparty_name,
            line.description, line.return_reason, line.is_reversal, decision.status, decision.rule,
            decision.exception_reason, payouts, decision.funding_id))
    mark = clock.perf_counter()
    await driver.copy_records_to_table("statement_line", records=records, columns=LINE_COPY_COLUMNS)
    line_ids = {r["line_no"]: r["id"] for r in await driver.fetch(
        "SELECT id, line_no FROM statement_line WHERE statement_id = $1", statement_row_id)}
    log.debug("statement_lines_written", lines=len(records), seconds=round(clock.perf_counter() - mark, 3))
    await apply_payout_effects(session, bank_bin, [
        (line_ids[line.line_no], line, decision) for line, decision in zip(lines, decisions, strict=True)
        if decision.credits or decision.returns], by_id, actor=actor, cause="statement_import")


async def apply_payout_effects(session: AsyncSession, bank_bin: str,
                               items: list[tuple[int, StatementLine, LineDecision]],
                               by_id: dict[UUID, PayoutCandidate], *, actor: str, cause: str) -> None:
    """Ledger transfers, payout updates, match rows and flags for lines that credit or return payouts; then the
    runs of those payouts that have nothing in flight any more are settled (``settle_runs``, audited as
    ``actor`` with ``cause``). A payout of a settled or closed run is credited or returned all the same: the
    bank's money facts are never refused because of a run's status (a late return leaves its run settled)."""
    if not items:
        return
    started = clock.perf_counter()
    driver = await driver_connection(session)
    bank_account = bank_disbursement_account(bank_bin)
    reversal_payables = {payable_account(by_id[payout_id].beneficiary_id)
                         for _, _, d in items for payout_id, was_credited in d.returns if was_credited}
    account_ids = await ensure_accounts(session, [bank_account, *sorted(reversal_payables, key=lambda s: s.code)])
    ids: list[UUID] = []
    kinds: list[TransferKind] = []
    pendings: list[UUID | None] = []
    debits: list[int | None] = []
    credits_: list[int | None] = []
    amounts: list[int | None] = []
    references: list[str | None] = []
    codes: list[str] = []
    moments: list[datetime] = []
    # (payout, moment, whether the line gave only its booking day)
    # (payout, moment): a date-only line's moment already raised by ``not_before``
    credited: list[tuple[UUID, datetime]] = []
    returned: list[tuple[UUID, datetime, str]] = []
    matches: list[tuple[UUID, str, int, str, UUID]] = []
    flags: list[tuple[UUID, UUID, int]] = []
    blocks: list[tuple[UUID, str, int, datetime]] = []
    credited_now: dict[UUID, datetime] = {}  # credits of this import: a return in it comes no earlier
    for line_id, line, decision in items:
        moment = booking_moment(line)
        day_only = line.booked_at is None
        rule = decision.rule or "manual_match"
        for payout_id in decision.credits:
            payout = by_id[payout_id]
            at = credited_now[payout_id] = not_before(moment, day_only, payout.sent_at)
            transfer_id = payout_transfer_id(payout_id, "credit")
            ids.append(transfer_id)
            kinds.append(TransferKind.post)
            pendings.append(payout_transfer_id(payout_id, "send"))
            debits.append(None)
            credits_.append(None)
            amounts.append(None)
            references.append(payout.reference)
            codes.append("payout.credit")
            moments.append(at)
            credited.append((payout_id, at))
            matches.append((payout_id, "credit", line_id, rule, transfer_id))
        for payout_id, was_credited in decision.returns:
            payout = by_id[payout_id]
            at = not_before(moment, day_only, payout.sent_at, payout.credited_at, credited_now.get(payout_id))
            transfer_id = payout_transfer_id(payout_id, "return")
            ids.append(transfer_id)
            references.append(payout.reference)
            codes.append("payout.return")
            moments.append(at)
            if was_credited:
                kinds.append(TransferKind.single)
                pendings.append(None)
                debits.append(account_ids[bank_account.code])
                credits_.append(account_ids[payable_account(payout.beneficiary_id).code])
                amounts.append(payout.amount)
            else:
                kinds.append(TransferKind.void)
                pendings.append(payout_transfer_id(payout_id, "send"))
                debits.append(None)
                credits_.append(None)
                amounts.append(None)
            reason = decision.return_reason or "NARR"
            returned.append((payout_id, at, reason))
            matches.append((payout_id, "return", line_id, rule, transfer_id))
            if reason == DECEASED_REASON:
                flags.append((payout.beneficiary_id, payout_id, line_id))
            if reason in ACCOUNT_UNUSABLE_REASONS:
                blocks.append((payout_id, reason, line_id, at))
    mark = clock.perf_counter()
    log.debug("statement_effects_prepared", seconds=round(mark - started, 3))
    results = await create_transfer_arrays(
        session, ids=ids, code=codes, kind=kinds, debit_account_ids=debits, credit_account_ids=credits_,
        amounts=amounts, pending_ids=pendings, references=references, event_at=moments)
    refused = sorted({str(r) for r in results if r not in APPLIED_RESULTS})
    if refused:
        raise RuntimeError(f"ledger refused reconciliation transfers: {refused}")
    ledger_done = clock.perf_counter()
    # "p.id = ANY": the payouts are found through the primary key, not by hashing the whole payout table
    # (which grows by a run's payouts every month).
    # The moments are the ledger's (``not_before``: a date-only line never before the send, a return never
    # before the credit, read from the payouts locked with the candidates or credited by this import).
    if credited:
        updated = await driver.execute(
            """UPDATE payout p SET status = 'credited', credited_at = u.at
                 FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
                WHERE p.id = u.id AND p.id = ANY($1::uuid[]) AND p.status = 'sent'""",
            [c[0] for c in credited], [c[1] for c in credited])
        if int(updated.split()[-1]) != len(credited):
            raise RuntimeError("a payout to credit was no longer sent")
    if returned:
        # A returned payout gives its amount back to its programme's funding (programme_usage).
        changed = await driver.fetchval(tracking_usage(
            """UPDATE payout p SET status = 'returned', returned_at = u.at, return_reason = u.reason
                 FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, reason)
                WHERE p.id = u.id AND p.id = ANY($1::uuid[]) AND p.status IN ('sent', 'credited')""", "gave_back"),
            [r[0] for r in returned], [r[1] for r in returned], [r[2] for r in returned])
        if changed != len(returned):
            raise RuntimeError("a payout to return was neither sent nor credited")
    await driver.copy_records_to_table("statement_match", records=matches,
                                       columns=("payout_id", "effect", "line_id", "rule", "transfer_id"))
    if flags:
        await driver.executemany(
            """INSERT INTO beneficiary_flag (beneficiary_id, kind, payout_id, line_id)
               VALUES ($1, 'deceased_reported_by_bank', $2, $3)
               ON CONFLICT (beneficiary_id, kind) WHERE resolved_at IS NULL DO NOTHING""", flags)
    if blocks:
        await block_accounts(session, blocks)
    # Money that reached (or left) a person changes what their withdrawals pay off: re-allocate them.
    if credited or returned:
        await note_changes(session, payout_ids=[payout_id for payout_id, *_ in credited + returned])
        await reallocate_noted(session)
    payouts_done = clock.perf_counter()
    # Only the runs these payouts belong to; the ledger's lock (taken above) orders this check after every
    # earlier change of a payout's outcome.
    await settle_runs(session, {by_id[payout_id].run_id for payout_id, *_ in credited + returned}, actor=actor,
                      cause=cause)
    log.debug("statement_effects_applied", transfers=len(ids), ledger_seconds=round(ledger_done - mark, 3),
              payouts_seconds=round(payouts_done - ledger_done, 3),
              settle_seconds=round(clock.perf_counter() - payouts_done, 3))


async def block_accounts(session: AsyncSession, blocks: list[tuple[UUID, str, int, datetime]]) -> None:
    """Block the accounts returned payouts went to, for (payout, reason, statement line, booked at) whose reason
    says the account cannot receive money; an account already blocked keeps its first open block."""
    driver = await driver_connection(session)
    await driver.execute(
        """INSERT INTO bank_account_block (bank_account_id, reason, payout_id, line_id, returned_at)
           SELECT p.bank_account_id, u.reason, p.id, u.line_id, u.at
             FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[]) AS u(payout_id, reason, line_id, at)
             JOIN payout p ON p.id = u.payout_id AND p.id = ANY($1::uuid[])
            WHERE p.bank_account_id IS NOT NULL
            ORDER BY p.bank_account_id, u.at
           ON CONFLICT (bank_account_id) WHERE released_at IS NULL DO NOTHING""",
        [b[0] for b in blocks], [b[1] for b in blocks], [b[2] for b in blocks], [b[3] for b in blocks])


def exception_message(reason: str | None) -> str | None:
    """The bilingual text of an exception reason."""
    if reason is None:
        return None
    vi, en = EXCEPTION_REASONS.get(reason, (reason, reason))
    return f"{vi} / {en}"
