"""HTTP and command-line access to the ledger (the ledger itself is the ``ledger`` package)."""
