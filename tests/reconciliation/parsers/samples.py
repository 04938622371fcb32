"""Where the public sample statements live and what MANIFEST.tsv says about each."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]


def samples_dir() -> Path:
    """``$ANSINH_SAMPLES_DIR``, else ``shared/samples`` beside the repository (as CI lays it out)."""
    configured = os.environ.get("ANSINH_SAMPLES_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "samples"


@dataclass(frozen=True)
class SampleEntry:
    path: str
    content: str

    def count(self, key: str) -> int:
        found = re.search(re.escape(key) + r"=(\d+)", self.content)
        assert found, f"{key} not in MANIFEST content for {self.path}: {self.content}"
        return int(found.group(1))


def manifest() -> dict[str, SampleEntry]:
    """MANIFEST.tsv rows keyed by file path relative to the samples folder."""
    with (samples_dir() / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["file"]: SampleEntry(row["file"], row["content"]) for row in csv.DictReader(handle, delimiter="\t")}


class _FixtureLoader(yaml.SafeLoader):
    """Reads the mt940 library's expected-result dumps without executing anything from them."""


def _construct_object(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    data: dict[Any, Any] = {}
    yield data
    if isinstance(node, yaml.MappingNode):
        data.update(loader.construct_mapping(node, deep=True))


def _construct_apply(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.SequenceNode)
    args = loader.construct_sequence(node, deep=True)
    if suffix == "decimal.Decimal":
        return Decimal(args[0])
    if suffix == "mt940.models.Date":  # pickled date: year (2 bytes), month, day
        raw = args[0]
        return date(raw[0] * 256 + raw[1], raw[2], raw[3])
    return None


_FixtureLoader.add_multi_constructor("tag:yaml.org,2002:python/object:", _construct_object)
_FixtureLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:", _construct_apply)


def load_mt940_expected(path: Path) -> list[dict[str, Any]]:
    """The transactions' ``data`` dicts from an mt940 library ``.yml`` expected result."""
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_FixtureLoader)
    return [transaction["data"] for transaction in loaded["transactions"]]
