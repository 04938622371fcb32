from __future__ import annotations

from pathlib import Path

import pytest

from tests.reconciliation.parsers.samples import samples_dir


@pytest.fixture(scope="session")
def samples() -> Path:
    folder = samples_dir()
    assert (folder / "MANIFEST.tsv").is_file(), (
        f"sample statements not found in {folder}; set ANSINH_SAMPLES_DIR to the shared/samples folder")
    return folder
