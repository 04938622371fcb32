"""What each programme's payouts took at each bank and commune (``programme_usage``, migration 0027).

A payout takes its amount from its programme's funding at its bank (or, for cash, its commune) when it is
sent, and keeps it while sent or credited; a return gives it back. The statements that move payouts into or
out of that state are wrapped by ``tracking_usage``: the update returns the rows it changed, and the same
statement adds (or takes back) their sums per programme and place. Send's funding check reads the sums
instead of every payout the programme ever sent.
"""

from __future__ import annotations

from typing import Literal

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
