"""Compiled yards kept on disk between processes, as yard files (GeoJSON, our format).

Compiling a generated terminal takes a couple of seconds; every `yardfleet` process that
simulates a shift needs one. The compiled yard is written once to the user's cache
(`$YARDFLEET_CACHE`, else `$XDG_CACHE_HOME/yardfleet/yards`, else
`~/.cache/yardfleet/yards`; `YARDFLEET_CACHE=off` turns it off), named by a hash of the
generator's parameters and of the source of the modules that draw and compile it, so a
changed generator never reads an old yard. A file that cannot be read or written is
simply not used: the yard is compiled again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from maps.errors import YardError
from maps.model import Yard

SOURCES = ("generator.py", "junctions.py", "bodies.py", "model.py", "geojson.py")
"""The modules whose code decides what a compiled yard is."""


def cache_dir() -> Path | None:
    """Where compiled yards are kept (None: not kept)."""
    where = os.environ.get("YARDFLEET_CACHE", "")
    if where == "off":
        return None
    if where:
        return Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yardfleet" / "yards"


def cache_key(what: str) -> str:
    """A name for `what` (the parameters' repr) under today's drawing and compiling code."""
    digest = hashlib.sha256(what.encode())
    here = Path(__file__).parent
    for name in SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:32]


def cached_yard(what: str, build: Callable[[], Yard]) -> Yard:
    """The yard kept for `what`, or `build()`'s, kept for next time."""
    from maps.geojson import load_yard, save_yard

    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / f"{cache_key(what)}.geojson"
    try:
        return load_yard(path, check=False)
    except (OSError, YardError, ValueError):
        pass
    yard = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as tmp:
            temp = Path(tmp.name)
        save_yard(yard, temp)
        temp.replace(path)  # whole or not at all, even with two processes at once
    except OSError:
        pass
    return yard
