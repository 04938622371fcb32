"""``ledger verify``: recompute the ledger from its transfers and report every inconsistency.

Every check is one set-based query (hash aggregates and one ordered window pass over the chain),
so it runs over millions of transfers. Checks: each account's four running totals equal what its
transfers add up to; total debits equal total credits, posted and pending; no account is over its
limit; every post or void names an earlier pending transfer with the same accounts and amount,
and each pending transfer is resolved at most once; the hash chain recomputes from the first
transfer to the chain head; no id is both a transfer and a remembered failure.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.driver import driver_connection
from ledger.schemas import VerifyProblem, VerifyReport

log = structlog.get_logger()

PROBLEMS_PER_CHECK = 200

_ACCOUNT_TOTALS = """
    WITH per_side AS (
        SELECT debit_account_id AS account_id,
               sum(amount) FILTER (WHERE kind IN ('single', 'post')) AS debits_posted,
               0::numeric AS credits_posted,
               sum(CASE kind WHEN 'pending' THEN amount WHEN 'single' THEN 0 ELSE -amount END) AS debits_pending,
               0::numeric AS credits_pending
        FROM ledger_transfer GROUP BY debit_account_id
        UNION ALL
        SELECT credit_account_id, 0, sum(amount) FILTER (WHERE kind IN ('single', 'post')),
               0, sum(CASE kind WHEN 'pending' THEN amount WHEN 'single' THEN 0 ELSE -amount END)
        FROM ledger_transfer GROUP BY credit_account_id
    ), recomputed AS (
        SELECT account_id, coalesce(sum(debits_posted), 0) AS debits_posted,
               coalesce(sum(credits_posted), 0) AS credits_posted,
               coalesce(sum(debits_pending), 0) AS debits_pending,
               coalesce(sum(credits_pending), 0) AS credits_pending
        FROM per_side GROUP BY account_id
    )
    SELECT coalesce(a.id, r.account_id) AS account_id, a.code,
           a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
           coalesce(r.debits_posted, 0) AS r_debits_posted, coalesce(r.credits_posted, 0) AS r_credits_posted,
           coalesce(r.debits_pending, 0) AS r_debits_pending, coalesce(r.credits_pending, 0) AS r_credits_pending
    FROM ledger_account a FULL JOIN recomputed r ON r.account_id = a.id
    WHERE a.id IS NULL
       OR a.debits_posted <> coalesce(r.debits_posted, 0) OR a.credits_posted <> coalesce(r.credits_posted, 0)
       OR a.debits_pending <> coalesce(r.debits_pending, 0) OR a.credits_pending <> coalesce(r.credits_pending, 0)
    ORDER BY 1
    LIMIT $1
"""

_TOTALS = """
    SELECT count(*) AS accounts,
           coalesce(sum(debits_posted), 0) AS debits_posted, coalesce(sum(credits_posted), 0) AS credits_posted,
           coalesce(sum(debits_pending), 0) AS debits_pending, coalesce(sum(credits_pending), 0) AS credits_pending,
           count(*) FILTER (WHERE (debits_must_not_exceed_credits AND debits_posted + debits_pending > credits_posted)
                               OR (credits_must_not_exceed_debits AND credits_posted + credits_pending > debits_posted))
               AS over_limit
    FROM ledger_account
"""

_OVER_LIMIT = """
    SELECT code FROM ledger_account
    WHERE (debits_must_not_exceed_credits AND debits_posted + debits_pending > credits_posted)
       OR (credits_must_not_exceed_debits AND credits_posted + credits_pending > debits_posted)
    ORDER BY code LIMIT $1
"""

_RESOLVED_TWICE = """
    SELECT pending_id, count(*) AS times FROM ledger_transfer WHERE pending_id IS NOT NULL
    GROUP BY pending_id HAVING count(*) > 1 ORDER BY pending_id LIMIT $1
"""

_BAD_RESOLUTIONS = """
    SELECT r.id, r.pending_id FROM ledger_transfer r LEFT JOIN ledger_transfer p ON p.id = r.pending_id
    WHERE r.pending_id IS NOT NULL
      AND (p.id IS NULL OR p.kind <> 'pending' OR p.seq >= r.seq OR p.debit_account_id <> r.debit_account_id
           OR p.credit_account_id <> r.credit_account_id OR p.amount <> r.amount)
    ORDER BY r.seq LIMIT $1
"""

_CHAIN = """
    SELECT seq, id, expected_seq, stored_hash = ledger_transfer_hash(
               previous_hash, id, seq, debit_account_id, credit_account_id, amount, event_at, created_at, kind,
               pending_id, code, reference, metadata) AS hash_ok
    FROM (
        SELECT t.*, t.hash AS stored_hash,
               lag(t.hash, 1, decode(repeat('00', 32), 'hex')) OVER (ORDER BY t.seq) AS previous_hash,
               row_number() OVER (ORDER BY t.seq) AS expected_seq
        FROM ledger_transfer t
    ) chained
    WHERE seq <> expected_seq OR stored_hash IS DISTINCT FROM ledger_transfer_hash(
               previous_hash, id, seq, debit_account_id, credit_account_id, amount, event_at, created_at, kind,
               pending_id, code, reference, metadata)
    ORDER BY seq LIMIT $1
"""

_HEAD = """
    SELECT c.last_seq, c.last_hash, last.seq AS last_transfer_seq, last.hash AS last_transfer_hash,
           (SELECT count(*) FROM ledger_transfer) AS transfers
    FROM ledger_chain c
    LEFT JOIN LATERAL (SELECT seq, hash FROM ledger_transfer ORDER BY seq DESC LIMIT 1) last ON true
    WHERE c.id = 1
"""

_FAILED_AND_WRITTEN = """
    SELECT f.id FROM ledger_transfer_failure f JOIN ledger_transfer t ON t.id = f.id ORDER BY f.id LIMIT $1
"""

_FIELDS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def _problem(check: str, vi: str, en: str, *, account: str | None = None, transfer: str | None = None) -> VerifyProblem:
    return VerifyProblem(check=check, message=vi, message_en=en, account=account, transfer=transfer)


async def verify_ledger(session: AsyncSession) -> VerifyReport:
    """Recompute every account from its transfers and check every invariant; list what is wrong."""
    started = time.perf_counter()
    driver = await driver_connection(session)
    await driver.execute("SET LOCAL work_mem = '256MB'")
    limit = PROBLEMS_PER_CHECK
    problems: list[VerifyProblem] = []

    for row in await driver.fetch(_ACCOUNT_TOTALS, limit):
        if row["code"] is None:
            problems.append(_problem(
                "account_missing",
                f"Có bút toán ghi vào tài khoản không tồn tại (id {row['account_id']})",
                f"Transfers refer to account id {row['account_id']}, which does not exist",
            ))
            continue
        for field in _FIELDS:
            stored, recomputed = row[field], int(row[f"r_{field}"])
            if stored != recomputed:
                problems.append(_problem(
                    "account_totals",
                    f"Tài khoản {row['code']}: {field} lưu {stored}, cộng từ các bút toán được {recomputed}",
                    f"Account {row['code']}: {field} is {stored}, its transfers add up to {recomputed}",
                    account=row["code"],
                ))

    totals = await driver.fetchrow(_TOTALS)
    for side in ("posted", "pending"):
        debits, credits = int(totals[f"debits_{side}"]), int(totals[f"credits_{side}"])
        if debits != credits:
            problems.append(_problem(
                "debits_equal_credits",
                f"Tổng nợ ({side}) {debits} khác tổng có {credits}",
                f"Total debits {side} {debits} differ from total credits {side} {credits}",
            ))
    if totals["over_limit"]:
        for row in await driver.fetch(_OVER_LIMIT, limit):
            problems.append(_problem(
                "account_limit",
                f"Tài khoản {row['code']} vượt hạn mức",
                f"Account {row['code']} is over its limit",
                account=row["code"],
            ))

    for row in await driver.fetch(_RESOLVED_TWICE, limit):
        problems.append(_problem(
            "pending_resolved_once",
            f"Bút toán chờ {row['pending_id']} được ghi nhận/huỷ {row['times']} lần",
            f"Pending transfer {row['pending_id']} is posted or voided {row['times']} times",
            transfer=str(row["pending_id"]),
        ))
    for row in await driver.fetch(_BAD_RESOLUTIONS, limit):
        problems.append(_problem(
            "pending_resolution",
            f"Bút toán {row['id']} ghi nhận/huỷ {row['pending_id']}, không phải bút toán chờ trước đó "
            "cùng tài khoản và số tiền",
            f"Transfer {row['id']} posts or voids {row['pending_id']}, which is not an earlier pending transfer "
            "with the same accounts and amount",
            transfer=str(row["id"]),
        ))

    for row in await driver.fetch(_CHAIN, limit):
        if row["seq"] != row["expected_seq"]:
            problems.append(_problem(
                "chain_sequence",
                f"Chuỗi băm: bút toán {row['id']} có số thứ tự {row['seq']}, mong đợi {row['expected_seq']}",
                f"Hash chain: transfer {row['id']} has seq {row['seq']}, expected {row['expected_seq']}",
                transfer=str(row["id"]),
            ))
        if not row["hash_ok"]:
            problems.append(_problem(
                "chain_hash",
                f"Chuỗi băm hỏng tại bút toán số {row['seq']} ({row['id']}): nội dung hoặc thứ tự đã bị sửa",
                f"Hash chain broken at seq {row['seq']} ({row['id']}): the transfer or its predecessor was altered",
                transfer=str(row["id"]),
            ))
    head = await driver.fetchrow(_HEAD)
    last_seq = head["last_transfer_seq"] or 0
    last_hash = bytes(head["last_transfer_hash"]) if head["last_transfer_hash"] is not None else bytes(32)
    if head["last_seq"] != last_seq or bytes(head["last_hash"]) != last_hash:
        problems.append(_problem(
            "chain_head",
            f"Đầu chuỗi (số {head['last_seq']}) không khớp bút toán cuối (số {last_seq})",
            f"Chain head (seq {head['last_seq']}) does not match the last transfer (seq {last_seq})",
        ))

    for row in await driver.fetch(_FAILED_AND_WRITTEN, limit):
        problems.append(_problem(
            "failure_is_final",
            f"Mã {row['id']} vừa được ghi là thất bại vừa có bút toán",
            f"Id {row['id']} is both a remembered failure and a written transfer",
            transfer=str(row["id"]),
        ))

    report = VerifyReport(ok=not problems, accounts=totals["accounts"], transfers=head["transfers"],
                          problems=problems, chain_head_hash=bytes(head["last_hash"]).hex())
    log.info("ledger_verified", ok=report.ok, accounts=report.accounts, transfers=report.transfers,
             problems=len(problems), seconds=round(time.perf_counter() - started, 3))
    return report
