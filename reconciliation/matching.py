"""Match statement lines of a bank's disbursement account to payouts and funding (no database, no HTTP).

The caller loads the candidates (payouts by reference, by account, the bank's open batches, its
funding) and the matcher decides line by line, in statement order, keeping each payout's state as
the lines change it (a credit then its return in the same statement is a credit, then a reversal).
Rules, first that applies wins, each line recording it:

1. ``reference``: a debit whose end-to-end reference names a sent payout of this bank, same amount;
2. ``return``: a credit carrying a payout reference, a return reason code or a reversal flag;
3. ``bulk``: one debit equal to the sum of one batch (run + bank) of sent payouts;
4. ``account_amount_date``: counterparty account + amount + value date within 3 days of sending,
   when exactly one sent payout fits;
5. ``funding``: a credit matching recorded funding of this bank (reference, else a unique amount);
6. the rest: an exception with a reason (``duplicate``, ``amount_mismatch``, ``unmatched`` …).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from reconciliation.parsers.model import StatementLine

DATE_WINDOW = timedelta(days=3)
DECEASED_REASON = "MD07"
# ISO 20022 return reasons saying the account cannot receive money: a return with one of them blocks the
# account the payout went to, and runs hold the person until an officer registers a corrected account
# (or, for MD07, resolves the "deceased" flag). Other reasons (AM04 insufficient funds, NARR, ...) do not.
ACCOUNT_UNUSABLE_REASONS = frozenset({"AC01", "AC04", "AC06", "AC13", "BE01", DECEASED_REASON})
RETURN_REASON_MESSAGES = {
    "AC01": ("Số tài khoản không đúng", "incorrect account number"),
    "AC04": ("Tài khoản đã đóng", "account closed"),
    "AC06": ("Tài khoản bị phong toả", "account blocked"),
    "AC13": ("Loại tài khoản không hợp lệ", "invalid account type"),
    "BE01": ("Tên chủ tài khoản không khớp", "account holder name does not match"),
    "MD07": ("Chủ tài khoản đã mất", "account holder deceased"),
}


def return_reason_text(code: str) -> str:
    """A bank's return code as staff read it: "CODE: Vietnamese / CODE: English" (an unknown code as it is)."""
    vi, en = RETURN_REASON_MESSAGES.get(code, (code, code))
    return f"{code}: {vi} / {code}: {en}"
# A return without a code still says why in its text; ISO 20022 "NARR" = reason given as narrative.
UNSTATED_RETURN_REASON = "NARR"

EXCEPTION_REASONS = {
    "duplicate": ("Khoản đã được ghi nhận trước đó (trùng)", "already applied (duplicate line)"),
    "amount_mismatch": ("Số tiền không khớp với lệnh chi", "amount differs from the payment order"),
    "other_bank": ("Mã tham chiếu thuộc lệnh chi của ngân hàng khác", "the reference is another bank's payout"),
    "not_sent": ("Lệnh chi chưa được gửi hoặc đã huỷ", "the payout was not sent or was cancelled"),
    "already_returned": ("Lệnh chi đã bị hoàn trả", "the payout was already returned"),
    "return_unmatched": ("Khoản hoàn trả không tìm được lệnh chi", "a return with no payout found"),
    "unknown_credit": ("Khoản ghi có không rõ nguồn", "a credit of unknown origin"),
    "unmatched": ("Không khớp được với lệnh chi nào", "matches no payout"),
    "ambiguous": ("Nhiều lệnh chi cùng khớp, cần chọn tay", "several payouts fit; choose by hand"),
    "booked_too_early": ("Ngày ghi sổ trước khi lệnh chi có thể được gửi (trước tháng liền trước kỳ chi trả)",
                         "booked before the payout could have been sent (before the month before its run's period)"),
}


@dataclass(slots=True)
class PayoutCandidate:
    """A payout as the matcher needs it; ``state`` is sent, credited, returned, scheduled or cancelled."""

    id: UUID
    reference: str
    bank_bin: str | None
    account_number: str | None
    amount: int
    state: str
    run_id: UUID
    sent_on: date | None
    beneficiary_id: UUID
    sent_at: datetime | None = None
    credited_at: datetime | None = None
    # The first day the bank could have executed it: a run of period P is prepared from month P-1 at the
    # earliest (runs go up to the month after the current one), so nothing of it is booked before P-1's first day.
    earliest_on: date | None = None


@dataclass(slots=True)
class FundingCandidate:
    id: UUID
    amount: int
    reference: str
    value_date: date
    taken: bool = False


@dataclass(slots=True)
class LineDecision:
    """What one line does: its status and rule, and the payouts it credits or returns."""

    line_no: int
    status: str  # matched, returned, exception
    rule: str | None
    exception_reason: str | None = None
    credits: list[UUID] = field(default_factory=list)
    # payout id → whether it was credited (posted) before the return, i.e. needs a reversing transfer
    returns: list[tuple[UUID, bool]] = field(default_factory=list)
    return_reason: str | None = None
    funding_id: UUID | None = None


@dataclass
class Candidates:
    """Everything the matcher may match a statement's lines against."""

    bank_bin: str
    by_reference: dict[str, PayoutCandidate] = field(default_factory=dict)
    by_account: dict[str, list[PayoutCandidate]] = field(default_factory=dict)
    # sum of a (run, bank) batch's sent payouts → the batches with that sum
    batches: dict[int, list[list[PayoutCandidate]]] = field(default_factory=dict)
    fundings: list[FundingCandidate] = field(default_factory=list)


def line_references(line: StatementLine, find_reference: Callable[[str], str | None]) -> str | None:
    """The payout reference a line carries: its end-to-end id, else one found in its other fields."""
    if line.end_to_end_ref:
        exact = line.end_to_end_ref.strip().upper()
        found = find_reference(exact)
        if found:
            return found
    for text in (line.description, line.bank_reference):
        if text:
            found = find_reference(text)
            if found:
                return found
    return None


class Matcher:
    """Decides every line of one statement, in order, updating the candidates' state as it goes."""

    def __init__(self, candidates: Candidates, find_reference: Callable[[str], str | None]) -> None:
        self.candidates = candidates
        self.find_reference = find_reference

    def decide_all(self, lines: Sequence[StatementLine],
                   references: Sequence[str | None] | None = None) -> list[LineDecision]:
        """One decision per line, in the lines' order; ``references`` (one per line, from
        ``line_references``) saves finding them again when the caller already did."""
        if references is None:
            return [self.decide(line) for line in lines]
        return [self.decide_with(line, reference) for line, reference in zip(lines, references, strict=True)]

    def decide(self, line: StatementLine) -> LineDecision:
        """The decision for one line (rules 1–6)."""
        return self.decide_with(line, line_references(line, self.find_reference))

    def decide_with(self, line: StatementLine, reference: str | None) -> LineDecision:
        """The decision for one line whose payout reference (``line_references``) is already known."""
        payout = self.candidates.by_reference.get(reference) if reference else None
        if line.amount < 0:
            if payout is not None:
                return self._credit_by_reference(line, payout)
            return self._bulk(line) or self._account_amount_date(line) or self._exception(line, "unmatched")
        if payout is not None or line.return_reason or line.is_reversal:
            return self._return(line, payout)
        return self._funding(line) or self._exception(line, "unknown_credit")

    # --- rules ---------------------------------------------------------------------------------
    def _credit_by_reference(self, line: StatementLine, payout: PayoutCandidate) -> LineDecision:
        if payout.bank_bin != self.candidates.bank_bin:
            return self._exception(line, "other_bank")
        if _booked_too_early(line, payout):
            return self._exception(line, "booked_too_early")
        if payout.state in ("credited",):
            return self._exception(line, "duplicate")
        if payout.state == "returned":
            return self._exception(line, "already_returned")
        if payout.state != "sent":
            return self._exception(line, "not_sent")
        if payout.amount != -line.amount:
            return self._exception(line, "amount_mismatch")
        payout.state = "credited"
        return LineDecision(line.line_no, "matched", "reference", credits=[payout.id])

    def _return(self, line: StatementLine, payout: PayoutCandidate | None) -> LineDecision:
        if payout is None:
            fits = [p for p in self._by_account(line) if p.state in ("sent", "credited") and p.amount == line.amount]
            if len(fits) != 1:
                return self._exception(line, "return_unmatched" if not fits else "ambiguous")
            payout = fits[0]
        if payout.bank_bin != self.candidates.bank_bin:
            return self._exception(line, "other_bank")
        if _booked_too_early(line, payout):
            return self._exception(line, "booked_too_early")
        if payout.state == "returned":
            return self._exception(line, "duplicate")
        if payout.state not in ("sent", "credited"):
            return self._exception(line, "not_sent")
        if payout.amount != line.amount:
            return self._exception(line, "amount_mismatch")
        was_credited = payout.state == "credited"
        payout.state = "returned"
        reason = (line.return_reason or UNSTATED_RETURN_REASON).strip().upper()
        return LineDecision(line.line_no, "returned", "return", returns=[(payout.id, was_credited)],
                            return_reason=reason)

    def _bulk(self, line: StatementLine) -> LineDecision | None:
        batches = [batch for batch in self.candidates.batches.get(-line.amount, ())
                   if all(p.state == "sent" and not _booked_too_early(line, p) for p in batch)]
        if len(batches) != 1:
            return None
        for payout in batches[0]:
            payout.state = "credited"
        return LineDecision(line.line_no, "matched", "bulk", credits=[p.id for p in batches[0]])

    def _by_account(self, line: StatementLine) -> list[PayoutCandidate]:
        if not line.counterparty_account:
            return []
        return self.candidates.by_account.get(normalise_account(line.counterparty_account), [])

    def _account_amount_date(self, line: StatementLine) -> LineDecision | None:
        when = line.value_date or line.booking_date
        fits = [p for p in self._by_account(line)
                if p.state == "sent" and p.amount == -line.amount and p.bank_bin == self.candidates.bank_bin
                and p.sent_on is not None and abs(when - p.sent_on) <= DATE_WINDOW]
        if len(fits) != 1:
            return self._exception(line, "ambiguous") if fits else None
        fits[0].state = "credited"
        return LineDecision(line.line_no, "matched", "account_amount_date", credits=[fits[0].id])

    def _funding(self, line: StatementLine) -> LineDecision | None:
        texts = [t.strip().upper() for t in (line.bank_reference, line.end_to_end_ref, line.description) if t]
        open_fundings = [f for f in self.candidates.fundings if not f.taken and f.amount == line.amount]
        by_reference = [f for f in open_fundings
                        if any(f.reference.upper() == t or f.reference.upper() in t for t in texts)]
        fits = by_reference or open_fundings
        if len(fits) != 1:
            return None
        fits[0].taken = True
        return LineDecision(line.line_no, "matched", "funding", funding_id=fits[0].id)

    @staticmethod
    def _exception(line: StatementLine, reason: str) -> LineDecision:
        return LineDecision(line.line_no, "exception", None, exception_reason=reason)


def _booked_too_early(line: StatementLine, payout: PayoutCandidate) -> bool:
    """A line booked before its payout could have been sent (a back-dated or mistyped booking date): applied, it
    would give the payout an arrival years before its month and shift the person's withdrawals onto it."""
    return payout.earliest_on is not None and line.booking_date < payout.earliest_on


def normalise_account(account: str) -> str:
    """An account number as payouts store it: digits only."""
    return "".join(ch for ch in account if ch.isalnum()).upper()


def summarise(decisions: Iterable[LineDecision]) -> dict[str, int]:
    """Counts by outcome: lines, matched, returned, exceptions, duplicates, funding, payouts credited."""
    counts: dict[str, int] = defaultdict(int)
    for decision in decisions:
        counts["lines"] += 1
        if decision.status == "matched":
            counts["matched"] += 1
        elif decision.status == "returned":
            counts["returned"] += 1
        else:
            counts["exceptions"] += 1
            if decision.exception_reason == "duplicate":
                counts["duplicates"] += 1
        if decision.rule == "funding":
            counts["funding"] += 1
        counts["payouts_credited"] += len(decision.credits)
    return {key: counts.get(key, 0) for key in
            ("lines", "matched", "returned", "exceptions", "duplicates", "funding", "payouts_credited")}
