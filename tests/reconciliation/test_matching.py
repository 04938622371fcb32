"""The matcher alone (no database): each rule, in order, and payout state carried from line to line."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciliation.checks import PreviousStatement, statement_errors, statement_gap
from reconciliation.matching import Candidates, FundingCandidate, Matcher, PayoutCandidate, summarise
from reconciliation.parsers import Statement, StatementLine

BANK = "970436"
SENT = date(2026, 3, 9)
_REFERENCE = re.compile(r"AS\d{4}[0-9A-Z]{8}")


def find_reference(text: str) -> str | None:
    found = _REFERENCE.search(text.upper())
    return found.group(0) if found else None


def payout(n: int, amount: int = 650_000, **changes: object) -> PayoutCandidate:
    base = PayoutCandidate(id=uuid.UUID(int=n), reference=f"AS2603{n:08d}", bank_bin=BANK,
                           account_number=f"0{n:012d}", amount=amount, state="sent", run_id=uuid.UUID(int=999),
                           sent_on=SENT, beneficiary_id=uuid.UUID(int=10_000 + n))
    return replace(base, **changes)  # type: ignore[arg-type]


def line(amount: int, ref: str | None = None, **changes: object) -> StatementLine:
    base = StatementLine(account="0011004455667", booking_date=SENT + timedelta(days=1), value_date=SENT,
                         booked_at=None, amount=amount, currency="VND", bank_reference=None, end_to_end_ref=ref,
                         counterparty_account=None, counterparty_name=None, description=None, return_reason=None,
                         is_reversal=False, line_no=1)
    return replace(base, **changes)  # type: ignore[arg-type]


def matcher(*payouts: PayoutCandidate, fundings: tuple[FundingCandidate, ...] = (),
            batches: bool = False) -> Matcher:
    candidates = Candidates(bank_bin=BANK, by_reference={p.reference: p for p in payouts},
                            fundings=list(fundings))
    for p in payouts:
        if p.account_number:
            candidates.by_account.setdefault(p.account_number, []).append(p)
    if batches:
        candidates.batches[sum(p.amount for p in payouts)] = [list(payouts)]
    return Matcher(candidates, find_reference)


def test_reference_then_duplicate_then_return_of_a_credited_payout():
    p = payout(1)
    m = matcher(p)
    first, again, back = m.decide_all([line(-650_000, p.reference), line(-650_000, p.reference),
                                       line(650_000, p.reference, return_reason="AC04")])
    assert (first.status, first.rule, first.credits) == ("matched", "reference", [p.id])
    assert (again.status, again.exception_reason) == ("exception", "duplicate")
    assert (back.status, back.rule, back.returns, back.return_reason) == ("returned", "return", [(p.id, True)], "AC04")
    assert p.state == "returned"
    assert summarise([first, again, back]) == {"lines": 3, "matched": 1, "returned": 1, "exceptions": 1,
                                               "duplicates": 1, "funding": 0, "payouts_credited": 1}


def test_return_before_credit_voids_and_reference_found_in_free_text():
    p = payout(2)
    decision = matcher(p).decide(line(650_000, None, description=f"HOAN TRA {p.reference.lower()} TK DONG"))
    assert decision.returns == [(p.id, False)] and decision.return_reason == "NARR"


def test_amount_mismatch_other_bank_and_not_sent_are_exceptions():
    p, q, r = payout(3), payout(4, bank_bin="970418"), payout(5, state="scheduled")
    m = matcher(p, q, r)
    assert m.decide(line(-1, p.reference)).exception_reason == "amount_mismatch"
    assert m.decide(line(-650_000, q.reference)).exception_reason == "other_bank"
    assert m.decide(line(-650_000, r.reference)).exception_reason == "not_sent"
    assert p.state == "sent"


def test_bulk_debit_credits_the_batch_once():
    ps = [payout(n, amount=100_000 * n) for n in range(1, 4)]
    m = matcher(*ps, batches=True)
    bulk = m.decide(line(-600_000))
    assert (bulk.rule, sorted(bulk.credits)) == ("bulk", sorted(p.id for p in ps))
    assert m.decide(line(-600_000)).exception_reason == "unmatched"


def test_account_amount_date_needs_exactly_one_candidate_within_three_days():
    p = payout(6)
    assert matcher(p).decide(line(-650_000, counterparty_account=p.account_number)).rule == "account_amount_date"
    late = line(-650_000, counterparty_account=p.account_number, value_date=SENT + timedelta(days=4))
    assert matcher(payout(6)).decide(late).exception_reason == "unmatched"
    twin = payout(7, account_number=p.account_number)
    assert matcher(payout(6), twin).decide(
        line(-650_000, counterparty_account=p.account_number)).exception_reason == "ambiguous"


def test_funding_by_reference_then_by_unique_amount_and_unknown_credits():
    a = FundingCandidate(id=uuid.UUID(int=1), amount=5_000_000, reference="FT-A", value_date=SENT)
    b = FundingCandidate(id=uuid.UUID(int=2), amount=5_000_000, reference="FT-B", value_date=SENT)
    m = matcher(fundings=(a, b))
    assert m.decide(line(5_000_000, bank_reference="FT-B")).funding_id == b.id
    assert m.decide(line(5_000_000)).funding_id == a.id
    assert m.decide(line(5_000_000)).exception_reason == "unknown_credit"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["debit", "return", "noise"])), max_size=30))
def test_a_payout_is_credited_at_most_once_and_returned_at_most_once(events):
    payouts = [payout(n + 1) for n in range(5)]
    m = matcher(*payouts)
    lines = []
    for index, kind in events:
        p = payouts[index]
        if kind == "debit":
            lines.append(line(-p.amount, p.reference))
        elif kind == "return":
            lines.append(line(p.amount, p.reference, return_reason="AC01"))
        else:
            lines.append(line(-123))
    decisions = m.decide_all(lines)
    credits = [pid for d in decisions for pid in d.credits]
    returns = [pid for d in decisions for pid, _ in d.returns]
    assert len(credits) == len(set(credits)) and len(returns) == len(set(returns))
    for d in decisions:  # a return after a credit reverses it; before, it voids the pending transfer
        for pid, was_credited in d.returns:
            assert was_credited == (pid in credits[: sum(len(x.credits) for x in decisions[: decisions.index(d)])])


def test_statement_checks_and_gaps():
    lines = (line(-650_000, "AS260300000001"),)
    good = Statement(statement_id="S1", account="1", currency="VND", opening_balance=1_000_000,
                     closing_balance=350_000, opening_date=SENT, closing_date=SENT, lines=lines, source_format="x")
    assert statement_errors(good, 1) == []
    (unbalanced,) = statement_errors(replace(good, closing_balance=1), 1)
    assert unbalanced["message"] == ("Sao kê S1: số dư đầu kỳ 1.000.000 đ + phát sinh -650.000 đ = 350.000 đ, "
                                     "khác số dư cuối kỳ 1 đ")
    assert unbalanced["message_en"] == ("statement S1: opening 1,000,000 đồng + lines -650,000 đồng = 350,000 đồng, "
                                        "not the closing balance 1 đồng")
    assert "chỉ nhận VND" in statement_errors(replace(good, currency="USD"), 1)[0]["message"]
    assert "thiếu số dư" in statement_errors(replace(good, opening_balance=None), 1)[0]["message"]
    previous = PreviousStatement(id=1, statement_id="S0", closing_balance=1_000_000, closing_date=SENT)
    assert statement_gap(previous, good) is None
    gap = statement_gap(replace(previous, closing_date=SENT - timedelta(days=5)), replace(good, opening_balance=7))
    assert gap is not None and gap["difference"] == 7 - 1_000_000 and gap["missing_to"] == "2026-03-08"
