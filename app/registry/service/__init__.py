"""Registry operations: plain async functions taking an AsyncSession (they flush, never commit)."""

from app.registry.service.accounts import (
    add_bank_account,
    decide_bank_account_request,
    list_bank_account_requests,
    list_bank_accounts,
    replace_bank_account,
    request_bank_account_change,
)
from app.registry.service.beneficiaries import (
    beneficiary_detail,
    create_beneficiary,
    list_events,
    load_beneficiary,
    record_event,
    search_beneficiaries,
    update_beneficiary,
)
from app.registry.service.enrolments import add_enrolment, set_enrolment_end
from app.registry.service.programmes import (
    active_disbursement_account,
    add_rate,
    is_disbursement_account,
    list_banks,
    list_disbursement_accounts,
    list_programmes,
    rate_in_force,
    register_disbursement_account,
)

__all__ = [
    "active_disbursement_account",
    "add_bank_account",
    "add_enrolment",
    "add_rate",
    "beneficiary_detail",
    "create_beneficiary",
    "decide_bank_account_request",
    "is_disbursement_account",
    "list_bank_account_requests",
    "list_bank_accounts",
    "list_banks",
    "list_disbursement_accounts",
    "list_events",
    "list_programmes",
    "load_beneficiary",
    "rate_in_force",
    "record_event",
    "register_disbursement_account",
    "replace_bank_account",
    "request_bank_account_change",
    "search_beneficiaries",
    "set_enrolment_end",
    "update_beneficiary",
]
