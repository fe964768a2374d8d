"""Typed settings: values are checked and paths do not move with the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assetwatch.core.settings import load_settings


def test_a_relative_data_dir_is_anchored_where_it_was_read(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSETWATCH_DATA_DIR", ".assetwatch")
    settings = load_settings()
    os.chdir("/")  # as a daemon does
    assert settings.data_dir == tmp_path / ".assetwatch"
    assert settings.secrets_dir == tmp_path / ".assetwatch" / "secrets"
