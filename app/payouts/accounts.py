"""Ledger account codes of the payout chart (DESIGN.md "The ledger")."""

from __future__ import annotations

from uuid import UUID

from ledger.schemas import AccountSpec, AccountType


def expense_account(programme: str) -> AccountSpec:
    """Entitlements recognised for a programme."""
    return AccountSpec(code=f"expense:{programme}", type=AccountType.expense)


def funding_account(programme: str) -> AccountSpec:
    """The budget of a programme (source of every funding transfer)."""
    return AccountSpec(code=f"funding:{programme}", type=AccountType.equity)


def payable_account(beneficiary_id: UUID | str) -> AccountSpec:
    """What is owed to one beneficiary."""
    return AccountSpec(code=f"payable:beneficiary:{beneficiary_id}", type=AccountType.liability)


PAYABLE_PREFIX = payable_account("").code
PAYABLE_TYPE = payable_account("").type


def bank_disbursement_account(bank_bin: str) -> AccountSpec:
    """A bank's disbursement account; it cannot pay out more than it received (pending included)."""
    return AccountSpec(code=f"bank:{bank_bin}:disbursement", type=AccountType.asset,
                       credits_must_not_exceed_debits=True)


def commune_cash_account(commune_code: str) -> AccountSpec:
    """Cash handed to a commune for beneficiaries on the cash channel (funded, then paid out at send).

    No limit, unlike a bank's disbursement account: accounts made before send checked a commune's funding
    already hold cash paid out unfunded (credits above debits), and an account's limits never change. Send's
    funding check per (programme, commune) keeps it from paying out more than it was given."""
    return AccountSpec(code=f"cash:commune:{commune_code}", type=AccountType.asset)
