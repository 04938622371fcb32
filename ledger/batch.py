"""A batch of transfers held column by column, and its sealing into hash-chained COPY rows.

Sealing builds, in one pass, each transfer's row in PostgreSQL's binary COPY format and its
hash: ``sha256(previous hash || the row's fields)``, where the fields are the binary COPY fields
of every column but ``hash`` (int4 length, then the value; -1 for NULL). The SQL function
``ledger_transfer_hash`` (migration 0002) rebuilds the same bytes from a stored row for
``ledger verify``: the two must stay identical.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

from ledger.schemas import TransferKind

POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
GENESIS_HASH = bytes(32)

# The order of the fields in a COPY row (and in the hashed bytes): fixed-width columns first.
COPY_COLUMNS = (
    "id", "seq", "debit_account_id", "credit_account_id", "amount", "event_at", "created_at",
    "kind", "pending_id", "code", "reference", "metadata", "hash",
)
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
COPY_TRAILER = b"\xff\xff"

_NULL = b"\xff\xff\xff\xff"
_int4 = struct.Struct(">i").pack
_row_start = struct.pack(">h", len(COPY_COLUMNS))
_hash_field = _int4(32)
# id, seq, debit, credit, amount, event_at, created_at: each an int4 length and the value
_fixed_fields = struct.Struct(">i16siqiqiqiqiqiq").pack


def postgres_micros(moment: datetime) -> int:
    """Microseconds since 2000-01-01 UTC (PostgreSQL's binary timestamptz) of an aware datetime."""
    return (moment - POSTGRES_EPOCH) // MICROSECOND


def text_field(value: str | None) -> bytes:
    """A text value as a binary COPY field: int4 length then UTF-8 bytes; NULL is length -1."""
    if value is None:
        return _NULL
    encoded = value.encode()
    return _int4(len(encoded)) + encoded


def canonical_json(metadata: dict[str, Any] | None) -> str | None:
    """The one text form metadata is stored and hashed in (sorted keys, no spaces)."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"transfer metadata must be a JSON object (dict), got {type(metadata).__name__}")
    return json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class TransferColumns:
    """Transfers column by column; every list has one entry per transfer."""

    ids: list[UUID]
    kinds: list[TransferKind]
    debits: list[int | None]
    credits: list[int | None]
    amounts: list[int | None]
    pending_ids: list[UUID | None]
    codes: list[str]
    references: list[str | None]
    metadata: list[str | None]  # canonical JSON text
    event_ats: list[datetime | None]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, positions: Sequence[int]) -> TransferColumns:
        """The transfers at ``positions``, in that order."""
        return TransferColumns(
            ids=[self.ids[i] for i in positions],
            kinds=[self.kinds[i] for i in positions],
            debits=[self.debits[i] for i in positions],
            credits=[self.credits[i] for i in positions],
            amounts=[self.amounts[i] for i in positions],
            pending_ids=[self.pending_ids[i] for i in positions],
            codes=[self.codes[i] for i in positions],
            references=[self.references[i] for i in positions],
            metadata=[self.metadata[i] for i in positions],
            event_ats=[self.event_ats[i] for i in positions],
        )


def seal(
    batch: TransferColumns, *, first_seq: int, previous_hash: bytes, created_at: datetime, start: int = 0,
    stop: int | None = None,
) -> tuple[bytes, bytes]:
    """Binary COPY rows (``COPY_COLUMNS``, no header) for ``batch[start:stop]`` and the chain's new head hash.

    Accounts and amounts must be filled in (post and void copy them from their pending transfer)
    and ``event_ats`` must hold no None. ``first_seq`` is the seq of the transfer at ``start``.
    """
    sha256 = hashlib.sha256
    created_us = postgres_micros(created_at)
    event_us: dict[datetime, int] = {}
    # kind, pending_id and code rarely vary within a batch: their fields are cached together
    middles: dict[tuple[TransferKind, UUID | None, str], bytes] = {}
    rows: list[bytes] = []
    append = rows.append
    current = previous_hash
    seq = first_seq
    columns = zip(batch.ids, batch.kinds, batch.debits, batch.credits, batch.amounts, batch.pending_ids,
                  batch.codes, batch.references, batch.metadata, batch.event_ats, strict=True)
    for transfer_id, kind, debit, credit, amount, pending_id, code, reference, metadata, event_at in islice(
        columns, start, stop
    ):
        moment = event_us.get(event_at)  # type: ignore[arg-type]
        if moment is None:
            moment = event_us[event_at] = postgres_micros(event_at)  # type: ignore[arg-type,index]
        key = (kind, pending_id, code)
        middle = middles.get(key)
        if middle is None:
            middle = b"".join((text_field(kind.value), _NULL if pending_id is None else _int4(16) + pending_id.bytes,
                               text_field(code)))
            if len(middles) < 64:
                middles[key] = middle
        fields = b"".join((
            _fixed_fields(16, transfer_id.bytes, 8, seq, 8, debit, 8, credit, 8, amount, 8, moment, 8, created_us),
            middle,
            _NULL if reference is None else text_field(reference),
            _NULL if metadata is None else text_field(metadata),
        ))
        current = sha256(current + fields).digest()
        append(b"".join((_row_start, fields, _hash_field, current)))
        seq += 1
    return b"".join(rows), current
