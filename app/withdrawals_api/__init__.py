"""HTTP and command-line access to withdrawal activity, assisted withdrawals and follow-up notes
(the allocation itself lives in ``reconciliation.withdrawals``)."""
