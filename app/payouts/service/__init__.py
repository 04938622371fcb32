"""Payout operations: runs (create, compute, approve, send), funding and payment orders."""
