"""People who sign in: passwords hashed, names apart from teams, ownership by team."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from isthmus.cli.main import app
from isthmus.governance.people import (
    Principal,
    WeakPassword,
    hash_password,
    password_matches,
)
from isthmus.model import System

PASSWORD = "a long enough phrase"


def test_passwords_are_salted_scrypt_and_checked_in_constant_form() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second  # salted
    assert first.startswith("scrypt$")
    assert PASSWORD not in first
    assert password_matches(PASSWORD, first)
    assert not password_matches(PASSWORD + "!", first)
    assert not password_matches(PASSWORD, "md5$whatever")
    with pytest.raises(WeakPassword):
        hash_password("short")


def test_a_person_owns_what_names_them_or_their_team() -> None:
    dana = Principal("dana", teams=frozenset({"field-apps"}))

    def owned(owner: str) -> System:
        return System.model_validate({"kind": "System", "metadata": {"name": "x", "owner": owner}})

    assert dana.owns(owned("dana"))
    assert dana.owns(owned("field-apps"))
    assert not dana.owns(owned("sales-ops"))
    assert Principal("root", admin=True).owns(owned("sales-ops"))


def test_a_name_cannot_be_both_a_person_and_a_team(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    runner = CliRunner()

    def add(*args: str) -> int:
        result = runner.invoke(app, ["user", "add", *args, "--home", home], input=PASSWORD + "\n")
        return result.exit_code

    assert add("dana", "--team", "sales") == 0
    assert add("sales") == 1  # would own everything the sales team owns
    assert add("olivia", "--team", "dana") == 1
    assert add("olivia", "--team", "sales") == 0
    listed = runner.invoke(app, ["user", "list", "--home", home])
    assert "olivia" in listed.output
    assert PASSWORD not in listed.output
