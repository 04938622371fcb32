"""Reference data shipped with the package (provinces, communes, banks, programmes)."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Any


def read_reference_csv(name: str) -> list[dict[str, Any]]:
    """Rows of ``app/registry/data/<name>.csv`` as dicts of strings."""
    text = resources.files("app.registry").joinpath("data", f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))
