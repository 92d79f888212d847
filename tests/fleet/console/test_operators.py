"""Operators: `yardfleet operators add|list`, argon2 hashes, and where the console may bind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.console.operators import OperatorError, Operators, Role
from fleet.console.serving import check_bind, parse_address
from sim.cli import main


def test_operators_add_and_list_keep_only_hashes(tmp_path: Path) -> None:
    path = tmp_path / "ops.json"
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "operators",
            "add",
            "dana",
            "--role",
            "dispatcher",
            "--file",
            str(path),
            "--password",
            "secret-pass-1",
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main,
        ["operators", "add", "vic", "--role", "viewer", "--file", str(path)],
        input="viewer-pass-1\nviewer-pass-1\n",
    )
    assert r.exit_code == 0, r.output
    text = path.read_text()
    assert "secret-pass-1" not in text and "$argon2" in text
    assert path.stat().st_mode & 0o077 == 0
    listed = runner.invoke(main, ["operators", "list", "--file", str(path)])
    assert listed.output.splitlines() == ["dana\tdispatcher", "vic\tviewer"]
    ops = Operators.load(path)
    assert ops.verify("dana", "secret-pass-1") is not None
    assert ops.verify("dana", "secret-pass-2") is None
    assert ops.by_name["vic"].role is Role.VIEWER


def test_a_short_password_or_a_bad_name_is_refused(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main,
        [
            "operators",
            "add",
            "dana",
            "--role",
            "dispatcher",
            "--file",
            str(tmp_path / "o.json"),
            "--password",
            "short",
        ],
    )
    assert r.exit_code == 1 and "at least 8 characters" in r.output
    with pytest.raises(OperatorError, match="letters, digits"):
        Operators(tmp_path / "o.json").add("dana smith", Role.VIEWER, "long-enough-1")


def test_a_broken_operators_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"operators": {"x": {"role": "boss", "hash": "h"}}}))
    with pytest.raises(OperatorError, match="operator 'x'"):
        Operators.load(path)


def test_binding_beyond_loopback_needs_operators(tmp_path: Path) -> None:
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    with pytest.raises(ValueError, match="beyond loopback"):
        check_bind("0.0.0.0", None)
    ops = Operators(tmp_path / "o.json")
    with pytest.raises(ValueError, match="at least one operator"):
        check_bind("10.0.0.5", ops)
    ops.add("dana", Role.DISPATCHER, "long-enough-1")
    check_bind("10.0.0.5", ops)
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address("[::1]:0") == ("::1", 0)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("8080")
