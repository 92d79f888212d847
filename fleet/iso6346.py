"""ISO 6346 container numbers: owner code, category, serial number and the check digit."""

from __future__ import annotations

import re

_LETTER_VALUES = {
    letter: value
    for letter, value in zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [v for v in range(10, 39) if v % 11 != 0],
        strict=True,
    )
}
"""Letters count 10, 12, 13, ... skipping the multiples of 11 (ISO 6346 Annex A)."""

_FORMAT = re.compile(r"^[A-Z]{3}[UJZR][0-9]{6}[0-9]$")


def check_digit(first_ten: str) -> int:
    """The check digit of an owner code, category and serial (10 characters)."""
    total = 0
    for position, char in enumerate(first_ten):
        value = _LETTER_VALUES[char] if char.isalpha() else int(char)
        total += value << position
    return total % 11 % 10


def problem(number: str) -> str | None:
    """Why a container number is not a valid ISO 6346 number, or None if it is."""
    clean = number.strip().upper().replace(" ", "")
    if not _FORMAT.match(clean):
        return (
            f"{number!r} is not an ISO 6346 container number (3 letters owner code, "
            "category U/J/Z/R, 6 digits, check digit)"
        )
    expected = check_digit(clean[:10])
    if int(clean[10]) != expected:
        return f"{number!r}: check digit is {clean[10]}, ISO 6346 gives {expected}"
    return None


def normalise(number: str) -> str:
    """A container number in its canonical form: upper case, no spaces."""
    return number.strip().upper().replace(" ", "")
