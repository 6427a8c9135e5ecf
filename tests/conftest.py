"""Shared fixtures: the parity corpus shipped inside the repository."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
COMPAT = DATA / "compat"


@pytest.fixture(scope="session")
def compat_dir(tmp_path_factory) -> Path:
    """The parity corpus: pools/, bad_pools/, cases.tsv and expected/ (unpacked once)."""
    root = tmp_path_factory.mktemp("compat")
    with tarfile.open(COMPAT / "expected.tar.xz") as archive:
        archive.extractall(root, filter="data")
    for name in ("pools", "bad_pools"):
        (root / name).symlink_to(COMPAT / name)
    (root / "cases.tsv").symlink_to(COMPAT / "cases.tsv")
    return root
