"""What each programme's payouts took at each bank and commune (``programme_usage``, migration 0027).

A payout takes its amount from its programme's funding at its bank (or, for cash, its commune) when it is
sent, and keeps it while sent or credited; a return gives it back. The statements that move payouts into or
out of that state are wrapped by ``tracking_usage``: the update returns the rows it changed, and the same
statement adds (or takes back) their sums per programme and place. Send's funding check reads the sums
instead of every payout the programme ever sent.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import verify_ledger
from ledger.schemas import VerifyProblem, VerifyReport

# A changed payout's programme and place (its bank, or for cash its commune).
_RETURNING = "RETURNING p.run_id, p.channel, p.bank_bin, p.commune_code, p.amount"


# The changed payouts' sums per programme and place.
_SUMS = """SELECT r.programme_code, c.channel = 'bank' AS by_bank,
                  CASE c.channel WHEN 'bank' THEN c.bank_bin ELSE c.commune_code END AS place,
                  sum(c.amount)::bigint AS amount
             FROM changed c JOIN payout_run r ON r.id = c.run_id
            WHERE c.channel IN ('bank', 'cash')
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3"""
_TOOK = f"""INSERT INTO programme_usage AS u (programme_code, by_bank, place, used)
            {_SUMS}
            ON CONFLICT (programme_code, by_bank, place) DO UPDATE SET used = u.used + excluded.used"""
# What was taken is there to give back (the CHECK keeps it from going below zero).
_GAVE_BACK = f"""UPDATE programme_usage u SET used = u.used - s.amount FROM ({_SUMS}) s
                  WHERE (u.programme_code, u.by_bank, u.place) = (s.programme_code, s.by_bank, s.place)"""  # noqa: S608


def tracking_usage(update: str, change: Literal["took", "gave_back"]) -> str:
    """``update`` (an ``UPDATE payout p … WHERE …`` without RETURNING, of payouts that all enter the sent or
    credited state — ``took`` — or all leave it — ``gave_back``) as one statement that also keeps
    ``programme_usage``; it returns one row, ``changed``: the number of payouts updated.

    Every caller writes to the ledger first in its transaction, so the ledger's lock orders them; the new
    rows are written in key order all the same."""
    return f"""
        WITH changed AS ({update} {_RETURNING}),
             usage AS ({_TOOK if change == "took" else _GAVE_BACK} RETURNING 1)
        SELECT count(*) AS changed FROM changed"""  # noqa: S608 - the caller's constant SQL


# programme_usage against the same sums read from every payout: the rows that differ.
_DRIFT = """
    WITH summed AS (
        SELECT r.programme_code, p.channel = 'bank' AS by_bank,
               CASE p.channel WHEN 'bank' THEN p.bank_bin ELSE p.commune_code END AS place,
               sum(p.amount)::bigint AS used
          FROM payout p JOIN payout_run r ON r.id = p.run_id
         WHERE p.status IN ('sent', 'credited') AND p.channel IN ('bank', 'cash')
         GROUP BY 1, 2, 3)
    SELECT coalesce(u.programme_code, s.programme_code) AS programme_code, coalesce(u.by_bank, s.by_bank) AS by_bank,
           coalesce(u.place, s.place) AS place, coalesce(u.used, 0) AS kept, coalesce(s.used, 0) AS summed
      FROM programme_usage u FULL JOIN summed s
        ON (s.programme_code, s.by_bank, s.place) = (u.programme_code, u.by_bank, u.place)
     WHERE coalesce(u.used, 0) <> coalesce(s.used, 0)
     ORDER BY 1, 2, 3
     LIMIT 200"""


async def usage_problems(session: AsyncSession) -> list[VerifyProblem]:
    """Where ``programme_usage`` differs from what the payouts add up to (a status changed outside the tracked
    statements, by hand in SQL for instance): one problem per programme and place, for ``ledger verify``."""
    problems = []
    for row in await session.execute(text(_DRIFT)):
        where = f"{'ngân hàng' if row.by_bank else 'xã/phường'} {row.place}"
        where_en = f"{'bank' if row.by_bank else 'commune'} {row.place}"
        problems.append(VerifyProblem(
            check="programme_usage",
            message=f"Kinh phí đã dùng của {row.programme_code} tại {where}: lưu {row.kept}, cộng từ các khoản chi "
                    f"được {row.summed}",
            message_en=f"{row.programme_code}'s funding used at {where_en}: kept {row.kept}, its payouts add up to "
                       f"{row.summed}"))
    return problems


async def verify_ledger_and_usage(session: AsyncSession) -> VerifyReport:
    """``verify_ledger``, plus the check that what each programme's funding paid out is kept right."""
    report = await verify_ledger(session)
    drift = await usage_problems(session)
    if not drift:
        return report
    return msgspec.structs.replace(report, ok=False, problems=[*report.problems, *drift])
