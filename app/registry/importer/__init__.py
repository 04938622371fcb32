"""Beneficiary import from xlsx/csv files with Vietnamese or English headers."""

from app.registry.importer.service import (
    ImportOutcome,
    error_copy,
    import_beneficiaries,
    record_rejected_import,
    rejection_problem,
)

__all__ = ["ImportOutcome", "error_copy", "import_beneficiaries", "record_rejected_import", "rejection_problem"]
