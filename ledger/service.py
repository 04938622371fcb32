"""Transfers: create them in batches (idempotent, limit-checked, hash-chained), read them back.

How a call to ``create_transfers`` runs:

1. It locks the chain head (``ledger_chain``), which serialises every writer to the ledger and
   orders the hash chain; ``created_at`` is the database clock at that moment.
2. The batch is cut into chunks of ``CHUNK_SIZE``. Each chunk first tries the fast path: cheap
   checks in Python, then inside a savepoint one UPDATE of the touched accounts (one row per
   account with the chunk's sums, driven by the id-sorted account array: rows are locked in id
   order) and one COPY of the sealed transfer rows. The database's constraints catch what the
   checks left open: a known id (primary key), a pending resolved twice (unique index), a missing
   account (row count, trigger), a limit (CHECK on the account row).
3. If anything refuses, the savepoint rolls back and the chunk goes through ``rules.evaluate``,
   which decides transfer by transfer (TigerBeetle's order and results) and writes the ones that
   succeed, plus the ids that failed on the ledger's state.

A batch gives one result per transfer. By default the transfers that succeed are applied and the
others are not (TigerBeetle's behaviour); with ``all_or_nothing=True`` a single failure applies
nothing and the good transfers report ``batch_failed``. Either way the call is atomic: if it raises,
nothing of it is applied, and it commits or rolls back with the caller's transaction.
"""

from __future__ import annotations

import asyncio
import operator
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.batch import COPY_COLUMNS, COPY_HEADER, COPY_TRAILER, TransferColumns, canonical_json, seal
from ledger.driver import driver_connection
from ledger.rules import (
    AccountDeltas,
    AccountState,
    LedgerState,
    StoredFields,
    account_deltas,
    check_fields,
    evaluate,
    limits_hold_throughout,
)
from ledger.schemas import (
    APPLIED_RESULTS,
    StoredTransfer,
    Transfer,
    TransferKind,
    TransferResult,
)

log = structlog.get_logger()

CHUNK_SIZE = 10_000
SEAL_PIECE = 500
SINGLE, PENDING = TransferKind.single, TransferKind.pending


def new_transfer_id() -> UUID:
    """A time-ordered UUID (version 7): keeps inserts into the id index local, unlike random UUIDs."""
    unix_ms = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(secrets.token_bytes(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (random_bits >> 62) << 64  # 12 bits
    value |= 0b10 << 62
    value |= random_bits & ((1 << 62) - 1)
    return uuid.UUID(int=value)


# --- input ------------------------------------------------------------------------------------


def _column(value: Any, size: int, name: str) -> list[Any]:
    if value is None or isinstance(value, str | TransferKind | datetime):
        return [value] * size
    values = list(value)
    if len(values) != size:
        raise ValueError(f"{name}: {len(values)} values for {size} transfers")
    return values


def _kinds(values: list[Any]) -> list[TransferKind]:
    distinct = {value: TransferKind(value) for value in set(values)}
    return [distinct[value] for value in values]


_INTEGER_OR_NONE = frozenset({int, type(None)})


def _check_types(batch: TransferColumns) -> None:
    """Programming errors raise (wrong types); bad values are left to the per-transfer results."""
    for transfer_id in batch.ids:
        if not isinstance(transfer_id, UUID):
            raise TypeError(f"transfer id must be a UUID, got {transfer_id!r}")
    for name, column in (("debit_account_id", batch.debits), ("credit_account_id", batch.credits),
                         ("amount", batch.amounts)):
        wrong = {type(value) for value in column} - _INTEGER_OR_NONE
        if wrong:  # money is integer đồng: no float, Decimal or bool
            raise TypeError(f"{name} must be int, got {', '.join(sorted(t.__name__ for t in wrong))}")
    for moment in set(batch.event_ats):
        if moment is not None and (not isinstance(moment, datetime) or moment.utcoffset() is None):
            raise ValueError(f"event_at must be an aware datetime, got {moment!r}")
    batch.references = [reference or None for reference in batch.references]


def columns_from_transfers(transfers: Sequence[Transfer]) -> TransferColumns:
    """Transfer structs as columns (the form ``create_transfer_columns`` takes)."""
    batch = TransferColumns(
        ids=[t.id for t in transfers],
        kinds=_kinds([t.kind for t in transfers]),
        debits=[t.debit_account_id for t in transfers],
        credits=[t.credit_account_id for t in transfers],
        amounts=[t.amount for t in transfers],
        pending_ids=[t.pending_id for t in transfers],
        codes=[t.code for t in transfers],
        references=[t.reference for t in transfers],
        metadata=[canonical_json(t.metadata) for t in transfers],
        event_ats=[t.event_at for t in transfers],
    )
    _check_types(batch)
    return batch


async def create_transfers(
    session: AsyncSession, transfers: Sequence[Transfer], *, all_or_nothing: bool = False
) -> list[TransferResult]:
    """Create transfers in order; one result per transfer (see the module docstring)."""
    return await create_transfer_columns(session, columns_from_transfers(transfers), all_or_nothing=all_or_nothing)


async def create_transfer_arrays(
    session: AsyncSession,
    *,
    ids: Sequence[UUID],
    code: str | Sequence[str],
    kind: TransferKind | str | Sequence[TransferKind | str] = TransferKind.single,
    debit_account_ids: Sequence[int | None] | None = None,
    credit_account_ids: Sequence[int | None] | None = None,
    amounts: Sequence[int | None] | None = None,
    pending_ids: Sequence[UUID | None] | None = None,
    references: Sequence[str | None] | None = None,
    metadata: Sequence[dict[str, Any] | None] | None = None,
    event_at: datetime | Sequence[datetime | None] | None = None,
    all_or_nothing: bool = False,
) -> list[TransferResult]:
    """Create transfers given column by column (the bulk entry point: no object per transfer).

    ``code``, ``kind`` and ``event_at`` take one value for all transfers or one per transfer; the
    other columns are one value per transfer or None (all absent). Post and void need only ids,
    ``pending_ids`` and a code.
    """
    size = len(ids)
    batch = TransferColumns(
        ids=list(ids),
        kinds=_kinds(_column(kind, size, "kind")),
        debits=_column(debit_account_ids, size, "debit_account_ids"),
        credits=_column(credit_account_ids, size, "credit_account_ids"),
        amounts=_column(amounts, size, "amounts"),
        pending_ids=_column(pending_ids, size, "pending_ids"),
        codes=_column(code, size, "code"),
        references=_column(references, size, "references"),
        metadata=[None] * size if metadata is None else [canonical_json(m) for m in _column(metadata, size, "metadata")],
        event_ats=_column(event_at, size, "event_at"),
    )
    _check_types(batch)
    return await create_transfer_columns(session, batch, all_or_nothing=all_or_nothing)


# --- the batch ------------------------------------------------------------------------------


async def lock_ledger(session: AsyncSession) -> None:
    """Take the chain head's lock now (every ledger write takes it; it is held until the transaction ends).

    A transaction that takes another lock and then writes to the ledger must take this one first, so
    every such transaction takes the two in the same order (otherwise two of them can deadlock).
    """
    await session.execute(text("SELECT 1 FROM ledger_chain WHERE id = 1 FOR UPDATE"))



@dataclass(slots=True)
class _Head:
    last_seq: int
    last_hash: bytes
    created_at: datetime
    failures_exist: bool


class _SlowPath(Exception):
    """The fast path cannot vouch for the chunk: decide it transfer by transfer."""


class _Discard(Exception):
    """An all-or-nothing batch had a failure: roll back everything it wrote."""


async def create_transfer_columns(
    session: AsyncSession, batch: TransferColumns, *, all_or_nothing: bool = False
) -> list[TransferResult]:
    """Create a batch held as columns; one result per transfer, in order."""
    if not len(batch):
        return []
    started = time.perf_counter()
    row = (await session.execute(text(
        "SELECT last_seq, last_hash, clock_timestamp() AS now, "
        "EXISTS (SELECT 1 FROM ledger_transfer_failure) AS failures_exist "
        "FROM ledger_chain WHERE id = 1 FOR UPDATE"
    ))).one()
    head = _Head(last_seq=row.last_seq, last_hash=bytes(row.last_hash), created_at=row.now,
                 failures_exist=row.failures_exist)
    first_seq = head.last_seq
    driver = await driver_connection(session)
    results: list[TransferResult] = []
    slow_chunks = 0
    try:
        async with driver.transaction():
            for start in range(0, len(batch), CHUNK_SIZE):
                chunk = batch.take(range(start, min(start + CHUNK_SIZE, len(batch)))) if len(batch) > CHUNK_SIZE \
                    else batch
                try:
                    chunk_results = await _fast_chunk(driver, chunk, head)
                except _SlowPath:
                    slow_chunks += 1
                    chunk_results = await _slow_chunk(driver, chunk, head)
                results.extend(chunk_results)
            failed = len(results) - sum(1 for result in results if result in APPLIED_RESULTS)
            if all_or_nothing and failed:
                raise _Discard
            await driver.execute(
                "UPDATE ledger_chain SET last_seq = $1, last_hash = $2, updated_at = clock_timestamp() WHERE id = 1",
                head.last_seq, head.last_hash,
            )
    except _Discard:
        results = [TransferResult.batch_failed if result is TransferResult.ok else result for result in results]
        log.info("ledger_batch_discarded", transfers=len(batch), failed=failed)
        return results
    log.info("ledger_transfers_created", transfers=len(batch), written=head.last_seq - first_seq, failed=failed,
             slow_chunks=slow_chunks, seconds=round(time.perf_counter() - started, 3))
    return results


def _screen(chunk: TransferColumns) -> None:
    """Cheap whole-column checks that let the fast path do arithmetic; raise _SlowPath otherwise."""
    amounts = chunk.amounts
    if None in amounts or min(amounts) <= 0:  # type: ignore[type-var,operator]
        raise _SlowPath
    if any(map(operator.eq, chunk.debits, chunk.credits)):
        raise _SlowPath
    for code in set(chunk.codes):
        if not isinstance(code, str) or not 0 < len(code) <= 64:
            raise _SlowPath
    for reference in chunk.references:
        if reference is not None and len(reference) > 140:
            raise _SlowPath


async def _resolve_pendings(driver: asyncpg.Connection[Any], chunk: TransferColumns) -> TransferColumns:
    """Fill the accounts and amount of posts and voids from their pending transfers (fast path only)."""
    positions = [i for i, kind in enumerate(chunk.kinds) if kind is not SINGLE and kind is not PENDING]
    if not positions:
        if chunk.pending_ids.count(None) != len(chunk) or None in chunk.debits or None in chunk.credits:
            raise _SlowPath
        return chunk
    pending_ids = [chunk.pending_ids[i] for i in positions]
    if None in pending_ids or len(set(pending_ids)) != len(pending_ids):
        raise _SlowPath
    rows = await driver.fetch(
        """
        SELECT p.id, p.kind, p.debit_account_id, p.credit_account_id, p.amount,
               EXISTS (SELECT 1 FROM ledger_transfer r WHERE r.pending_id = p.id) AS resolved
        FROM ledger_transfer p WHERE p.id = ANY($1::uuid[])
        """,
        pending_ids,
    )
    pendings = {row["id"]: row for row in rows}
    resolved = TransferColumns(
        ids=chunk.ids, kinds=chunk.kinds, debits=list(chunk.debits), credits=list(chunk.credits),
        amounts=list(chunk.amounts), pending_ids=chunk.pending_ids, codes=chunk.codes, references=chunk.references,
        metadata=chunk.metadata, event_ats=chunk.event_ats,
    )
    for i, pending_id in zip(positions, pending_ids, strict=True):
        pending = pendings.get(pending_id)
        if pending is None or pending["kind"] != PENDING or pending["resolved"]:
            raise _SlowPath
        for column, value in ((resolved.debits, pending["debit_account_id"]),
                              (resolved.credits, pending["credit_account_id"]), (resolved.amounts, pending["amount"])):
            if column[i] is None:
                column[i] = value
            elif column[i] != value:
                raise _SlowPath
    single_positions = set(range(len(chunk))) - set(positions)
    if any(chunk.pending_ids[i] is not None for i in single_positions):
        raise _SlowPath
    if None in resolved.debits or None in resolved.credits:
        raise _SlowPath
    return resolved


_UPDATE_ACCOUNTS = """
    UPDATE ledger_account a
    SET debits_posted = a.debits_posted + d.debits_posted,
        credits_posted = a.credits_posted + d.credits_posted,
        debits_pending = a.debits_pending + d.debits_pending,
        credits_pending = a.credits_pending + d.credits_pending
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
        AS d(id, debits_posted, credits_posted, debits_pending, credits_pending)
    WHERE a.id = d.id AND a.id = ANY($1::bigint[])
"""


async def _update_accounts(driver: asyncpg.Connection[Any], deltas: AccountDeltas) -> int:
    """Add a batch's sums to its accounts, one row per account in id order; the number of rows updated."""
    status = await driver.execute(_UPDATE_ACCOUNTS, deltas.account_ids, deltas.debits_posted, deltas.credits_posted,
                                  deltas.debits_pending, deltas.credits_pending)
    return int(status.rsplit(" ", 1)[1])


async def _limited_accounts(driver: asyncpg.Connection[Any], account_ids: list[int]) -> dict[int, AccountState]:
    """The accounts among ``account_ids`` that carry a limit (few: read through a partial index)."""
    rows = await driver.fetch(
        """SELECT id, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
                  debits_posted, credits_posted, debits_pending, credits_pending
           FROM ledger_account
           WHERE (debits_must_not_exceed_credits OR credits_must_not_exceed_debits) AND id = ANY($1::bigint[])""",
        account_ids,
    )
    return {row["id"]: AccountState(*list(row.values())[1:]) for row in rows}


async def _seal_yielding(batch: TransferColumns, head: _Head) -> tuple[bytes, bytes]:
    """``seal`` in pieces, yielding to the event loop between them so a query sent just before
    leaves the socket while the hashing goes on; the whole binary COPY payload and the new head."""
    pieces = [COPY_HEADER]
    last_hash = head.last_hash
    for start in range(0, len(batch), SEAL_PIECE):
        piece, last_hash = seal(batch, first_seq=head.last_seq + 1 + start, previous_hash=last_hash,
                                created_at=head.created_at, start=start, stop=start + SEAL_PIECE)
        pieces.append(piece)
        await asyncio.sleep(0)
    pieces.append(COPY_TRAILER)
    return b"".join(pieces), last_hash


async def _copy_transfers(driver: asyncpg.Connection[Any], payload: bytes) -> None:
    await driver.copy_to_table("ledger_transfer", source=memoryview(payload), columns=COPY_COLUMNS, format="binary")


async def _fast_chunk(driver: asyncpg.Connection[Any], chunk: TransferColumns, head: _Head) -> list[TransferResult]:
    resolved = await _resolve_pendings(driver, chunk)
    _screen(resolved)
    if head.failures_exist and await driver.fetchval(
        "SELECT EXISTS (SELECT 1 FROM ledger_transfer_failure WHERE id = ANY($1::uuid[]))", chunk.ids
    ):
        raise _SlowPath
    if None in resolved.event_ats:  # a copy: the slow path must still see what the caller gave
        resolved = replace(resolved, event_ats=[moment or head.created_at for moment in resolved.event_ats])
    deltas = account_deltas(resolved)
    limited = await _limited_accounts(driver, deltas.account_ids)
    if limited and not limits_hold_throughout(resolved, limited):
        raise _SlowPath
    try:
        async with driver.transaction():
            # The database updates the accounts while this process hashes the rows.
            updating = asyncio.ensure_future(_update_accounts(driver, deltas))
            try:
                payload, last_hash = await _seal_yielding(resolved, head)
            finally:
                updated = await updating
            if updated != len(deltas.account_ids):
                raise _SlowPath  # an account does not exist
            await _copy_transfers(driver, payload)
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        log.debug("ledger_fast_path_refused", error=type(error).__name__)
        raise _SlowPath from None
    head.last_seq += len(chunk)
    head.last_hash = last_hash
    return [TransferResult.ok] * len(chunk)


# --- transfer by transfer ---------------------------------------------------------------------

_TRANSFER_COLUMNS = """id, seq, kind, debit_account_id, credit_account_id, amount, pending_id, code, reference,
    metadata, event_at, created_at"""


def _stored_fields(row: Any) -> StoredFields:
    return StoredFields(
        kind=TransferKind(row["kind"]), debit_account_id=row["debit_account_id"],
        credit_account_id=row["credit_account_id"], amount=row["amount"], pending_id=row["pending_id"],
        code=row["code"], reference=row["reference"], metadata=row["metadata"], event_at=row["event_at"],
    )


async def _load_state(driver: asyncpg.Connection[Any], chunk: TransferColumns) -> LedgerState:
    state = LedgerState()
    pending_ids = list({p for p in chunk.pending_ids if isinstance(p, UUID)})
    rows = await driver.fetch(
        f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfer WHERE id = ANY($1::uuid[])",  # noqa: S608
        list(set(chunk.ids) | set(pending_ids)),
    )
    for row in rows:
        state.transfers[row["id"]] = _stored_fields(row)
    for row in await driver.fetch("SELECT id, result FROM ledger_transfer_failure WHERE id = ANY($1::uuid[])",
                                  chunk.ids):
        state.failed[row["id"]] = TransferResult(row["result"])
    if pending_ids:
        for row in await driver.fetch(
            "SELECT pending_id, kind FROM ledger_transfer WHERE pending_id = ANY($1::uuid[])", pending_ids
        ):
            state.resolutions[row["pending_id"]] = TransferKind(row["kind"])
    account_ids = {a for a in (*chunk.debits, *chunk.credits) if isinstance(a, int)}
    account_ids.update(stored.debit_account_id for stored in state.transfers.values())
    account_ids.update(stored.credit_account_id for stored in state.transfers.values())
    for row in await driver.fetch(
        """SELECT id, debits_must_not_exceed_credits, credits_must_not_exceed_debits,
                  debits_posted, credits_posted, debits_pending, credits_pending
           FROM ledger_account WHERE id = ANY($1::bigint[])""",
        sorted(account_ids),
    ):
        state.accounts[row["id"]] = AccountState(*list(row.values())[1:])
    return state


async def _slow_chunk(driver: asyncpg.Connection[Any], chunk: TransferColumns, head: _Head) -> list[TransferResult]:
    state = await _load_state(driver, chunk)
    evaluation = evaluate(chunk, state, head.created_at)
    accepted = evaluation.accepted_batch
    if len(accepted):
        deltas = account_deltas(accepted)
        if await _update_accounts(driver, deltas) != len(deltas.account_ids):
            raise RuntimeError("ledger: accounts vanished while a batch was applied")
        payload, last_hash = await _seal_yielding(accepted, head)
        await _copy_transfers(driver, payload)
        head.last_seq += len(accepted)
        head.last_hash = last_hash
    if evaluation.sticky:
        failed = chunk.take(evaluation.sticky)
        await driver.executemany(
            """INSERT INTO ledger_transfer_failure
                   (id, result, kind, debit_account_id, credit_account_id, amount, pending_id, code, reference, failed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            [(failed.ids[k], evaluation.results[i].value, failed.kinds[k].value, failed.debits[k], failed.credits[k],
              failed.amounts[k], failed.pending_ids[k], failed.codes[k], failed.references[k], head.created_at)
             for k, i in enumerate(evaluation.sticky)],
        )
        head.failures_exist = True
    return evaluation.results


# --- reading --------------------------------------------------------------------------------


def _stored_transfer(row: Any) -> StoredTransfer:
    metadata = row["metadata"]
    return StoredTransfer(
        id=row["id"], seq=row["seq"], kind=TransferKind(row["kind"]), debit_account_id=row["debit_account_id"],
        credit_account_id=row["credit_account_id"], amount=row["amount"], pending_id=row["pending_id"],
        code=row["code"], reference=row["reference"],
        metadata=None if metadata is None else msgspec.json.decode(metadata),
        event_at=row["event_at"], created_at=row["created_at"],
    )


async def get_transfers(session: AsyncSession, ids: Iterable[UUID]) -> dict[UUID, StoredTransfer]:
    """id -> transfer for the ids that exist."""
    driver = await driver_connection(session)
    rows = await driver.fetch(
        f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfer WHERE id = ANY($1::uuid[])", list(ids)  # noqa: S608
    )
    return {row["id"]: _stored_transfer(row) for row in rows}


async def account_transfers(session: AsyncSession, account_id: int, *, limit: int = 50) -> list[StoredTransfer]:
    """The account's most recent transfers (by event_at, then chain order), newest first."""
    driver = await driver_connection(session)
    rows = await driver.fetch(
        f"""
        SELECT {_TRANSFER_COLUMNS} FROM (
            (SELECT * FROM ledger_transfer WHERE debit_account_id = $1 ORDER BY event_at DESC LIMIT $2)
            UNION ALL
            (SELECT * FROM ledger_transfer WHERE credit_account_id = $1 ORDER BY event_at DESC LIMIT $2)
        ) recent
        ORDER BY event_at DESC, seq DESC LIMIT $2
        """,  # noqa: S608
        account_id, limit,
    )
    return [_stored_transfer(row) for row in rows]


async def transfer_failures(session: AsyncSession, ids: Iterable[UUID]) -> dict[UUID, TransferResult]:
    """id -> the remembered failure, for ids whose transfer failed on the ledger's state."""
    driver = await driver_connection(session)
    rows = await driver.fetch("SELECT id, result FROM ledger_transfer_failure WHERE id = ANY($1::uuid[])", list(ids))
    return {row["id"]: TransferResult(row["result"]) for row in rows}


__all__ = [
    "CHUNK_SIZE",
    "account_transfers",
    "check_fields",
    "columns_from_transfers",
    "create_transfer_arrays",
    "create_transfer_columns",
    "create_transfers",
    "get_transfers",
    "new_transfer_id",
    "transfer_failures",
]
