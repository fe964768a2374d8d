"""Choosing the broker binary (ASSETWATCH_MOSQUITTO) and the build of the current release."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetwatch.core.settings import Settings
from assetwatch.stack import broker_build
from assetwatch.stack.broker_build import CURRENT_SERIES, find_mosquitto
from assetwatch.stack.mosquitto import LocalMosquitto
from assetwatch.stack.system import StackError


def test_the_chosen_broker_runs_and_has_its_plugins(base_settings: Settings) -> None:
    build = find_mosquitto(base_settings.mosquitto, install=False)
    assert build.binary.is_file() and build.version >= (2, 0, 0)
    assert build.plugin("dynamic_security").is_file()
    if build.version >= (2, 1, 0):
        assert build.sqlite_persistence


def test_current_is_the_built_release_and_a_path_names_a_binary(base_settings: Settings) -> None:
    current = find_mosquitto("current", install=False)
    assert ".".join(map(str, current.version)).startswith(CURRENT_SERIES + ".")
    assert current.sqlite_persistence
    assert find_mosquitto(str(current.binary)) == current
    conf = LocalMosquitto(base_settings.model_copy(update={"mosquitto": str(current.binary)}))
    text = conf.config_text()
    assert f"global_plugin {current.plugin('dynamic_security')}" in text
    assert f"global_plugin {current.plugin('persist_sqlite')}" in text
    assert "persistence true" not in text  # 2.1 refuses both persistence kinds at once


def test_debian_2_0_saves_its_whole_state_on_every_change(base_settings: Settings) -> None:
    try:
        debian = find_mosquitto("debian", install=False)
    except StackError:
        pytest.skip("Debian's mosquitto is not installed")
    text = LocalMosquitto(base_settings.model_copy(update={"mosquitto": "debian"})).config_text()
    assert debian.version < (2, 1, 0)
    assert "autosave_on_changes true\nautosave_interval 1\n" in text
    assert f"plugin {debian.plugin('dynamic_security')}" in text


def test_a_wrong_choice_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"ASSETWATCH_MOSQUITTO: .* is not 'current', 'debian'"):
        find_mosquitto(str(tmp_path / "nothing"))


def test_a_failed_build_is_one_line_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """A series Debian does not have: the script fails, the stack says so in one line."""
    monkeypatch.setattr(broker_build, "PREFIX_ROOT", tmp_path / "opt")
    monkeypatch.setattr(broker_build, "CURRENT_SERIES", "0.9")
    monkeypatch.setattr(broker_build, "CURRENT_VERSION", "0.9.9")
    monkeypatch.setenv("MOSQUITTO_BUILD_DIR", str(tmp_path / "build"))
    with pytest.raises(StackError) as failed:
        find_mosquitto("current")
    message = str(failed.value)
    assert message.startswith("cannot build Mosquitto 0.9: ") and "\n" not in message
    assert message.count("ASSETWATCH_MOSQUITTO=debian") == 1
    assert not (tmp_path / "opt").exists() or not any((tmp_path / "opt").iterdir())
