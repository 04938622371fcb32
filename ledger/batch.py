"""A batch of transfers held column by column, and its sealing into hash-chained rows.

The hash of a transfer is ``sha256(previous hash || the transfer's bytes)``; the bytes are built
here in Python and by the SQL function ``ledger_transfer_hash`` (migration 0002) for
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

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
GENESIS_HASH = bytes(32)

COPY_COLUMNS = (
    "id", "seq", "kind", "debit_account_id", "credit_account_id", "amount", "pending_id", "code",
    "reference", "metadata", "event_at", "created_at", "hash",
)

_NULL_TEXT = b"\xff\xff\xff\xff"
_NO_PENDING = b"\x00"
_int4 = struct.Struct(">i").pack
_head = struct.Struct(">q16s").pack  # seq, id
_accounts_amount = struct.Struct(">qqq").pack  # debit, credit, amount
_two_int8 = struct.Struct(">qq").pack  # event_at, created_at


def epoch_micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime (exact integer arithmetic)."""
    return (moment - EPOCH) // MICROSECOND


def text_bytes(value: str | None) -> bytes:
    """A text field as hashed: int4 length then UTF-8 bytes; NULL is length -1."""
    if value is None:
        return _NULL_TEXT
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
) -> tuple[list[tuple[Any, ...]], bytes]:
    """COPY records (``COPY_COLUMNS`` order) for ``batch[start:stop]``, and the chain's new head hash.

    Accounts and amounts must be filled in (post and void copy them from their pending transfer)
    and ``event_ats`` must hold no None. ``first_seq`` is the seq of the transfer at ``start``.
    """
    sha256 = hashlib.sha256
    created_us = epoch_micros(created_at)
    kind_bytes = {kind: text_bytes(kind.value) for kind in TransferKind}
    kind_values = {kind: kind.value for kind in TransferKind}
    code_bytes: dict[str, bytes] = {}
    time_bytes: dict[datetime, bytes] = {}
    records: list[tuple[Any, ...]] = []
    append = records.append
    current = previous_hash
    seq = first_seq
    rows = zip(batch.ids, batch.kinds, batch.debits, batch.credits, batch.amounts, batch.pending_ids, batch.codes,
               batch.references, batch.metadata, batch.event_ats, strict=True)
    for transfer_id, kind, debit, credit, amount, pending_id, code, reference, metadata, event_at in islice(
        rows, start, stop
    ):
        encoded_code = code_bytes.get(code)
        if encoded_code is None:
            encoded_code = code_bytes[code] = text_bytes(code)
        encoded_times = time_bytes.get(event_at)  # type: ignore[arg-type]
        if encoded_times is None:
            encoded_times = time_bytes[event_at] = _two_int8(epoch_micros(event_at), created_us)  # type: ignore[arg-type,index]
        current = sha256(b"".join((
            current,
            _head(seq, transfer_id.bytes),
            kind_bytes[kind],
            _accounts_amount(debit, credit, amount),
            _NO_PENDING if pending_id is None else b"\x01" + pending_id.bytes,
            encoded_code,
            _NULL_TEXT if reference is None else text_bytes(reference),
            _NULL_TEXT if metadata is None else text_bytes(metadata),
            encoded_times,
        ))).digest()
        append((transfer_id, seq, kind_values[kind], debit, credit, amount, pending_id, code, reference, metadata,
                event_at, created_at, current))
        seq += 1
    return records, current
