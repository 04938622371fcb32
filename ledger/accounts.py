"""Accounts: bulk creation by code, lookups, balances (now and as of a moment)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.driver import driver_connection
from ledger.schemas import AccountCreated, AccountSpec, AccountType, AccountView, Balance

log = structlog.get_logger()

ACCOUNT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
_ACCOUNT_TYPES = frozenset(AccountType)


class AccountSpecError(ValueError):
    """Account specs that cannot be created (bad code or type, or both limits); lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]) + (f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""))
        self.problems = problems


class AccountConflict(ValueError):
    """Accounts that exist with another type or other limits than asked for."""

    def __init__(self, codes: list[str]) -> None:
        shown = ", ".join(codes[:20]) + (f" (+{len(codes) - 20} more)" if len(codes) > 20 else "")
        super().__init__(f"accounts exist with different type or limits: {shown}")
        self.codes = codes


def _check_specs(specs: Sequence[AccountSpec]) -> None:
    problems = []
    for spec in specs:
        if not isinstance(spec.code, str) or not ACCOUNT_CODE.fullmatch(spec.code):
            problems.append(f"invalid account code {spec.code!r}")
        elif spec.type not in _ACCOUNT_TYPES:
            problems.append(f"{spec.code}: invalid account type {spec.type!r}")
        elif spec.debits_must_not_exceed_credits and spec.credits_must_not_exceed_debits:
            problems.append(f"{spec.code}: at most one limit")
    if problems:
        raise AccountSpecError(problems)


_INPUT_TABLE = """
    DO $$ BEGIN
        IF to_regclass('pg_temp.ledger_account_input') IS NULL THEN
            CREATE TEMP TABLE ledger_account_input (
                position int NOT NULL, code text NOT NULL, type text NOT NULL,
                debits_must_not_exceed_credits boolean NOT NULL, credits_must_not_exceed_debits boolean NOT NULL
            ) ON COMMIT DELETE ROWS;
        END IF;
    END $$
"""


async def _upsert(session: AsyncSession, specs: Sequence[AccountSpec]) -> tuple[list[int], set[str], list[str]]:
    """Insert missing accounts; return ids in spec order, the codes inserted, and conflicting codes."""
    _check_specs(specs)
    if not specs:
        return [], set(), []
    driver = await driver_connection(session)
    await driver.execute(_INPUT_TABLE)
    await driver.execute("TRUNCATE ledger_account_input")
    await driver.copy_records_to_table(
        "ledger_account_input",
        records=[(position, spec.code, str(spec.type), spec.debits_must_not_exceed_credits,
                  spec.credits_must_not_exceed_debits) for position, spec in enumerate(specs)],
    )
    inserted = await driver.fetchval(
        """
        WITH added AS (
            INSERT INTO ledger_account (code, type, debits_must_not_exceed_credits, credits_must_not_exceed_debits)
            SELECT DISTINCT ON (i.code) i.code, i.type, i.debits_must_not_exceed_credits,
                   i.credits_must_not_exceed_debits
            FROM ledger_account_input i
            WHERE NOT EXISTS (SELECT 1 FROM ledger_account a WHERE a.code = i.code)
            ORDER BY i.code, i.position
            ON CONFLICT (code) DO NOTHING
            RETURNING code
        )
        SELECT coalesce(array_agg(code), '{}') FROM added
        """
    )
    ids, conflicts = await driver.fetchrow(
        """
        SELECT coalesce(array_agg(a.id ORDER BY i.position), '{}'),
               coalesce(array_agg(DISTINCT i.code) FILTER (
                   WHERE a.type <> i.type
                      OR a.debits_must_not_exceed_credits <> i.debits_must_not_exceed_credits
                      OR a.credits_must_not_exceed_debits <> i.credits_must_not_exceed_debits), '{}')
        FROM ledger_account_input i JOIN ledger_account a ON a.code = i.code
        """
    )
    await driver.execute("TRUNCATE ledger_account_input")
    log.info("ledger_accounts_upserted", asked=len(specs), created=len(inserted), conflicts=len(conflicts))
    return list(ids), set(inserted), list(conflicts)


def account_of_row(prefix_param: str, owner: str) -> tuple[str, str]:
    """(select columns, join) reading with each row the account coded ``<prefix><owner>`` — a caller's bulk
    read of per-person accounts (``prefix_param`` the ``$n`` of the prefix); check it with ``account_conflicts``."""
    return ("a.id AS account_id, a.type AS account_type, "
            "a.debits_must_not_exceed_credits OR a.credits_must_not_exceed_debits AS account_limited",
            f'LEFT JOIN ledger_account a ON a.code = CAST({prefix_param} || {owner} AS text) COLLATE "C"')


def account_conflicts(rows: Iterable[Any], code_of: Callable[[Any], str], account_type: AccountType, *,
                      must_exist: bool = False) -> list[str]:
    """Codes of ``rows`` (read with ``account_of_row``) whose account has another type or a limit — what
    ``ensure_accounts`` refuses — or, with ``must_exist``, has none; sorted."""
    return sorted(code_of(r) for r in rows
                  if (r["account_id"] is None and must_exist)
                  or (r["account_id"] is not None and (r["account_type"] != account_type or r["account_limited"])))


async def ensure_accounts_from_query(session: AsyncSession, codes_query: str, args: Sequence[Any],
                                     account_type: AccountType) -> int:
    """Create, in one statement, the accounts of type ``account_type`` (no limits) whose codes
    ``codes_query`` selects (one text column, ``$n`` arguments ``args``) and that do not exist yet;
    the number created. For the bulk creation of accounts a caller derives from its own rows (a
    million payables) without sending the codes over the wire.

    Existing accounts are left as they are, with whatever type and limits they have: the caller
    checks those where it reads the ids (``ensure_accounts`` raises ``AccountConflict`` for them).
    Codes are checked by the ``ledger_account_code`` domain.
    """
    if account_type not in _ACCOUNT_TYPES:
        raise AccountSpecError([f"invalid account type {account_type!r}"])
    driver = await driver_connection(session)
    status = await driver.execute(
        f"""
        INSERT INTO ledger_account (code, type)
        SELECT q.code, ${len(args) + 1}
          FROM (SELECT DISTINCT c.code COLLATE "C" AS code FROM ({codes_query}) AS c(code)) q
         WHERE NOT EXISTS (SELECT 1 FROM ledger_account a WHERE a.code = q.code)
         ORDER BY q.code
        ON CONFLICT (code) DO NOTHING
        """,  # noqa: S608
        *args, str(account_type),
    )
    created = int(status.rsplit(" ", 1)[1])
    log.info("ledger_accounts_created_from_query", created=created)
    return created


async def ensure_accounts(session: AsyncSession, specs: Sequence[AccountSpec]) -> dict[str, int]:
    """Create the accounts that do not exist yet (set-based) and return code -> id for all of them.

    Raises ``AccountConflict`` (and creates nothing it reports) when an existing account has another
    type or other limits than its spec; the caller's transaction should then roll back.
    """
    ids, _, conflicts = await _upsert(session, specs)
    if conflicts:
        raise AccountConflict(sorted(conflicts))
    return {spec.code: account_id for spec, account_id in zip(specs, ids, strict=True)}


async def create_accounts(session: AsyncSession, specs: Sequence[AccountSpec]) -> list[AccountCreated]:
    """Create accounts; one result per spec: ok, exists (same fields) or exists_with_different_fields."""
    _, inserted, conflicts = await _upsert(session, specs)
    conflicting = set(conflicts)
    results = []
    seen: set[str] = set()
    for spec in specs:
        if spec.code in conflicting:
            results.append(AccountCreated.exists_with_different_fields)
        elif spec.code in inserted and spec.code not in seen:
            results.append(AccountCreated.ok)
        else:
            results.append(AccountCreated.exists)
        seen.add(spec.code)
    return results


async def account_ids(session: AsyncSession, codes: Iterable[str]) -> dict[str, int]:
    """code -> id for the codes that exist (missing codes are left out)."""
    driver = await driver_connection(session)
    rows = await driver.fetch("SELECT code, id FROM ledger_account WHERE code = ANY($1::text[])", list(codes))
    return {row["code"]: row["id"] for row in rows}


_ACCOUNT_COLUMNS = """id, code, type, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
    debits_posted, credits_posted, debits_pending, credits_pending, created_at"""


def _account_view(row: Any) -> AccountView:
    return AccountView(
        id=row["id"], code=row["code"], type=AccountType(row["type"]),
        debits_must_not_exceed_credits=row["debits_must_not_exceed_credits"],
        credits_must_not_exceed_debits=row["credits_must_not_exceed_debits"],
        balance=Balance(debits_posted=row["debits_posted"], credits_posted=row["credits_posted"],
                        debits_pending=row["debits_pending"], credits_pending=row["credits_pending"]),
        created_at=row["created_at"],
    )


async def get_account(session: AsyncSession, code: str) -> AccountView | None:
    """The account with this code and its running totals, or None."""
    driver = await driver_connection(session)
    row = await driver.fetchrow(f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_account WHERE code = $1", code)  # noqa: S608
    return None if row is None else _account_view(row)


async def get_accounts(session: AsyncSession, ids: Iterable[int]) -> dict[int, AccountView]:
    """id -> account for the given ids (missing ids are left out)."""
    driver = await driver_connection(session)
    rows = await driver.fetch(
        f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_account WHERE id = ANY($1::bigint[])", list(set(ids))  # noqa: S608
    )
    return {row["id"]: _account_view(row) for row in rows}


async def balance_as_of(session: AsyncSession, account_id: int, at: datetime) -> Balance:
    """The account's four totals counting only transfers whose ``event_at`` is at or before ``at``."""
    if at.tzinfo is None:
        raise ValueError("balance_as_of needs an aware datetime")
    driver = await driver_connection(session)
    row = await driver.fetchrow(
        """
        SELECT
            coalesce(sum(amount) FILTER (WHERE debit_account_id = $1 AND kind IN ('single', 'post')), 0),
            coalesce(sum(amount) FILTER (WHERE credit_account_id = $1 AND kind IN ('single', 'post')), 0),
            coalesce(sum(CASE kind WHEN 'pending' THEN amount WHEN 'single' THEN 0 ELSE -amount END)
                     FILTER (WHERE debit_account_id = $1), 0),
            coalesce(sum(CASE kind WHEN 'pending' THEN amount WHEN 'single' THEN 0 ELSE -amount END)
                     FILTER (WHERE credit_account_id = $1), 0)
        FROM ledger_transfer
        WHERE (debit_account_id = $1 OR credit_account_id = $1) AND event_at <= $2
        """,
        account_id, at,
    )
    return Balance(debits_posted=int(row[0]), credits_posted=int(row[1]), debits_pending=int(row[2]),
                   credits_pending=int(row[3]))
