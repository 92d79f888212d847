"""The console's operators: names, roles and argon2 password hashes in one JSON file.

The file (`yardfleet operators add NAME --role dispatcher|viewer --file FILE`) maps each
name to its role and hash; passwords are never stored. A dispatcher may act (close a lane,
add a job, acknowledge an alarm); a viewer only watches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Operator", "OperatorError", "Operators", "Role"]

NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
"""An operator's name: what the journal records beside each action."""
MIN_PASSWORD = 8

_hasher = PasswordHasher()


class Role(StrEnum):
    """What an operator may do."""

    DISPATCHER = "dispatcher"
    VIEWER = "viewer"


class OperatorError(ValueError):
    """A bad operators file, name, role or password (the file and the field named)."""


@dataclass(frozen=True, slots=True)
class Operator:
    """One signed-up operator."""

    name: str
    role: Role
    password_hash: str

    @property
    def may_act(self) -> bool:
        """Dispatchers act; viewers only watch."""
        return self.role is Role.DISPATCHER


class Operators:
    """The operators of one console, kept in `path` (JSON)."""

    def __init__(self, path: Path, operators: dict[str, Operator] | None = None) -> None:
        self.path = path
        self.by_name: dict[str, Operator] = dict(operators or {})

    @classmethod
    def load(cls, path: Path) -> Operators:
        """The operators of a file (an absent file: none yet)."""
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise OperatorError(f"{path}: not an operators file ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("operators"), dict):
            raise OperatorError(f"{path}: expected {{\"operators\": {{NAME: ...}}}}")
        out: dict[str, Operator] = {}
        for name, rec in data["operators"].items():
            try:
                out[name] = Operator(name, Role(rec["role"]), str(rec["hash"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise OperatorError(f"{path}: operator {name!r}: bad entry ({exc})") from None
        return cls(path, out)

    def save(self) -> None:
        """Write the file (owner-readable only: it holds password hashes)."""
        data = {
            "operators": {
                o.name: {"role": o.role.value, "hash": o.password_hash}
                for o in sorted(self.by_name.values(), key=lambda o: o.name)
            }
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def add(self, name: str, role: Role, password: str) -> Operator:
        """Add (or replace) an operator with a new password."""
        if not NAME.match(name):
            raise OperatorError(f"operator name {name!r}: letters, digits and _.@- only, 1-64")
        if len(password) < MIN_PASSWORD:
            raise OperatorError(f"password for {name!r}: at least {MIN_PASSWORD} characters")
        op = Operator(name, role, _hasher.hash(password))
        self.by_name[name] = op
        return op

    def verify(self, name: str, password: str) -> Operator | None:
        """The operator if the password is theirs, else None (unknown names take as long)."""
        op = self.by_name.get(name)
        if op is None:
            _hasher.hash(password)  # the same work as a check: names are not told apart by time
            return None
        try:
            _hasher.verify(op.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return op

    def __len__(self) -> int:
        return len(self.by_name)
