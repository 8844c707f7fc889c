"""Shared fixtures: the repository, the packaged app and its extracted copy."""

import os
import re
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "aidetect"


def cargo_version():
    text = (ROOT / "Cargo.toml").read_text()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M).group(1)


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def package():
    """The tgz that `cargo xtask package` wrote (or $AIDETECT_PACKAGE)."""
    path = Path(os.environ.get("AIDETECT_PACKAGE") or ROOT / "dist" / f"{APP}-{cargo_version()}.tgz")
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo xtask package` (app/check.sh does)")
    return path


@pytest.fixture(scope="session")
def extracted(package, tmp_path_factory):
    """The package unpacked; returns the app folder."""
    into = tmp_path_factory.mktemp("app")
    with tarfile.open(package) as tar:
        tar.extractall(into, filter="tar")
    return into / APP
