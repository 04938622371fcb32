"""HTTP and command-line access to the reports (time to withdrawal, follow-up list, monthly workbook)."""
