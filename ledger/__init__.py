"""Double-entry ledger after TigerBeetle: accounts, immutable hash-chained transfers, verify.

Imports nothing from ``app``. Public API:

- accounts: ``ensure_accounts``, ``create_accounts``, ``account_ids``, ``get_account``,
  ``get_accounts``, ``balance_as_of``
- transfers: ``create_transfers``, ``create_transfer_arrays``, ``new_transfer_id``,
  ``get_transfers``, ``account_transfers``, ``transfer_failures``
- audit: ``verify_ledger``
"""

from ledger.accounts import (
    AccountConflict,
    AccountSpecError,
    account_ids,
    balance_as_of,
    create_accounts,
    ensure_accounts,
    get_account,
    get_accounts,
)
from ledger.schemas import (
    AccountCreated,
    AccountSpec,
    AccountType,
    AccountView,
    Balance,
    StoredTransfer,
    Transfer,
    TransferKind,
    TransferResult,
    VerifyProblem,
    VerifyReport,
)
from ledger.service import (
    account_transfers,
    create_transfer_arrays,
    create_transfers,
    get_transfers,
    lock_ledger,
    new_transfer_id,
    transfer_failures,
)
from ledger.verify import verify_ledger

__all__ = [
    "AccountConflict",
    "AccountCreated",
    "AccountSpec",
    "AccountSpecError",
    "AccountType",
    "AccountView",
    "Balance",
    "StoredTransfer",
    "Transfer",
    "TransferKind",
    "TransferResult",
    "VerifyProblem",
    "VerifyReport",
    "account_ids",
    "account_transfers",
    "balance_as_of",
    "create_accounts",
    "create_transfer_arrays",
    "create_transfers",
    "ensure_accounts",
    "get_account",
    "get_accounts",
    "get_transfers",
    "lock_ledger",
    "new_transfer_id",
    "transfer_failures",
    "verify_ledger",
]
