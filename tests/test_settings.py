"""Tests for schedtutor.settings: the browser the browser test drives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from schedtutor import settings

#: A real program for the browsers' names to stand for: which one does not matter here.
TRUE = shutil.which("true")


def programs(folder: Path, *names: str) -> str:
    """Make ``folder`` hold programs called ``names`` (links to ``true``); return it as a PATH."""
    folder.mkdir()
    assert TRUE is not None
    for name in names:
        (folder / name).symlink_to(TRUE)
    return str(folder)


class TestBrowser:
    def test_the_variable_names_it(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """SCHEDTUTOR_BROWSER, a program on PATH or a path, wins over the names on PATH."""
        monkeypatch.setenv("PATH", programs(tmp_path / "bin", "chromium", "my-chrome"))
        monkeypatch.setenv(settings.BROWSER, "my-chrome")
        assert settings.browser() == str(tmp_path / "bin" / "my-chrome")
        monkeypatch.setenv(settings.BROWSER, str(tmp_path / "bin" / "chromium"))
        assert settings.browser() == str(tmp_path / "bin" / "chromium")

    def test_the_first_name_on_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Unset, the first of chromium, chromium-browser, google-chrome on PATH is taken."""
        monkeypatch.delenv(settings.BROWSER, raising=False)
        monkeypatch.setenv("PATH", programs(tmp_path / "a", "google-chrome", "chromium-browser"))
        assert settings.browser() == str(tmp_path / "a" / "chromium-browser")
        monkeypatch.setenv("PATH", programs(tmp_path / "b", "google-chrome"))
        assert settings.browser() == str(tmp_path / "b" / "google-chrome")

    def test_none_when_there_is_none(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """No variable and none of the names on PATH: None, for the caller to say how to get one."""
        monkeypatch.delenv(settings.BROWSER, raising=False)
        monkeypatch.setenv("PATH", programs(tmp_path / "bin", "firefox"))
        assert settings.browser() is None

    def test_a_variable_naming_nothing_is_one_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SCHEDTUTOR_BROWSER naming no program raises one line that says what is accepted."""
        monkeypatch.setenv(settings.BROWSER, "/no/such/chromium")
        with pytest.raises(ValueError, match="chromium, chromium-browser or google-chrome") as e:
            settings.browser()
        assert "\n" not in str(e.value) and "'/no/such/chromium'" in str(e.value)
