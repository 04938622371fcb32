"""The reconciliation package wired to the command line (and, later, HTTP)."""
