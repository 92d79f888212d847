"""Bytes → checksummed NMEA 0183 sentences, framed by gpsd's rules, in chunks of any size.

Any `$` starts a sentence, a non-printable byte resets the scanner, a sentence ends at LF,
CRLF or CR CR LF, is at most MAX_SENTENCE_CHARS long and must carry a valid `*hh` checksum
(unless `require_checksum` is off). Bad input is counted in the stats, never raised.

Speed: a block of lines in which every `$` opens a well-formed sentence (the usual case) is
framed by one regular expression, in C; a block holding anything else goes through the
line-by-line rules, which also say why each rejected sentence was rejected. Both paths accept
exactly the same sentences.
"""

from __future__ import annotations

import re

from .stats import GnssStats, Reject

STANDARD_SENTENCE_CHARS = 82
"""NMEA 0183's limit, `$` to LF inclusive; receivers exceed it (Skytraq PSTI, u-blox)."""
MAX_SENTENCE_CHARS = 130
"""What we tolerate, `$` to the checksum inclusive, line ending excluded; longer is rejected."""

_BLOCK = 2048
"""Bytes of lines framed together: garbage sends only its own block down the slow path."""
_WELL_FORMED = re.compile(
    rb"\$([ -#%%-)+-~]{0,%d})\*([0-9A-Fa-f]{2})\r?\r?\n" % (MAX_SENTENCE_CHARS - 4)
)
"""`$`, printable characters but `$` and `*`, `*hh`, a line ending: body and checksum digits."""
_PRINTABLE = bytes(range(0x20, 0x7F))
_HEX: dict[bytes, int] = {
    (hi + lo).encode(): i
    for i in range(256)
    for hi in (f"{i >> 4:X}", f"{i >> 4:x}")
    for lo in (f"{i & 15:X}", f"{i & 15:x}")
}
"""Both cases of the two checksum digits → value; anything else is not a checksum."""
_M1024 = (1 << 1024) - 1
_M512 = (1 << 512) - 1
_M256 = (1 << 256) - 1
_M128 = (1 << 128) - 1


def checksum(body: bytes) -> int:
    """XOR of the bytes between `$` and `*`: eight-lane folds of one big int, no per-byte loop."""
    n = int.from_bytes(body)
    while n >> 1024:
        n = (n >> 1024) ^ (n & _M1024)
    n = (n >> 512) ^ (n & _M512)
    n = (n >> 256) ^ (n & _M256)
    n = (n >> 128) ^ (n & _M128)
    n ^= n >> 64
    n ^= n >> 32
    n ^= n >> 16
    n ^= n >> 8
    return n & 0xFF


class NmeaScanner:
    """Frames sentences out of a byte stream; `feed` returns each sentence whose checksum holds."""

    __slots__ = ("_tail", "require_checksum", "stats")

    def __init__(self, *, require_checksum: bool = True, stats: GnssStats | None = None) -> None:
        self.require_checksum = require_checksum
        self.stats = stats if stats is not None else GnssStats()
        self._tail = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Sentences completed by `data`, `$` to checksum, line ending stripped."""
        return self.scan(data, bodies=False)

    def scan(self, data: bytes, *, bodies: bool = True) -> list[bytes]:
        """What lies between `$` and `*` in each sentence `data` completes (`$…*hh` if not bodies).

        A sentence accepted without a checksum (`require_checksum` off) is all after the `$`.
        """
        self.stats.bytes_seen += len(data)
        buf = self._tail + data if self._tail else data
        end = buf.rfind(b"\n") + 1
        self._tail = self._hold(buf[end:])
        out: list[bytes] = []
        start = 0
        while start < end:
            stop = buf.find(b"\n", start + _BLOCK, end - 1) + 1 or end
            self._block(buf[start:stop], out, bodies)
            start = stop
        return out

    def _block(self, block: bytes, out: list[bytes], bodies: bool) -> None:
        """Frame whole lines: by the regular expression when it explains every `$`, else by line."""
        dollars = block.count(b"$")
        self.stats.sentences += dollars
        found = _WELL_FORMED.findall(block)
        if len(found) != dollars:
            self._lines(block, out, bodies)
            return
        hexval = _HEX.get
        if not bodies:
            raw = [b"$%s*%s" % (b, d) for b, d in found if checksum(b) == hexval(d)]
            self._count_bad(len(found) - len(raw))
            out += raw
            return
        from_bytes = int.from_bytes
        m512, m256, m128 = _M512, _M256, _M128
        good: list[bytes] = []
        append = good.append
        for body, digits in found:
            n = from_bytes(body)  # the XOR of its bytes, folded eight lanes at a time
            n = (n >> 512) ^ (n & m512)
            n = (n >> 256) ^ (n & m256)
            n = (n >> 128) ^ (n & m128)
            n ^= n >> 64
            n ^= n >> 32
            n ^= n >> 16
            n ^= n >> 8
            if n & 0xFF == hexval(digits):
                append(body)
        self._count_bad(len(found) - len(good))
        out += good

    def _count_bad(self, bad: int) -> None:
        """Count sentences whose checksum did not match."""
        if bad:
            self.stats.rejected[Reject.BAD_CHECKSUM] += bad

    def _lines(self, block: bytes, out: list[bytes], bodies: bool) -> None:
        """gpsd's rules line by line, with the reason for each sentence rejected."""
        rejected = self.stats.rejected
        for got in block.split(b"\n"):
            line = got[:-1] if got[-1:] == b"\r" else got
            line = line[:-1] if line[-1:] == b"\r" else line
            start = line.rfind(b"$")
            if start < 0:
                continue
            if start:
                cut = line.count(b"$", 0, start)
                if cut:
                    rejected[Reject.GARBLED] += cut
                line = line[start:]
            if line.translate(None, _PRINTABLE):
                rejected[Reject.GARBLED] += 1
            elif len(line) > MAX_SENTENCE_CHARS:
                rejected[Reject.TOO_LONG] += 1
            elif line[-3:-2] == b"*":
                want = _HEX.get(line[-2:])
                body = line[1:-3]
                if want is None or b"*" in body or checksum(body) != want:
                    rejected[Reject.BAD_CHECKSUM] += 1
                else:
                    out.append(body if bodies else line)
            elif b"*" in line:
                rejected[Reject.BAD_CHECKSUM] += 1
            elif self.require_checksum:
                rejected[Reject.NO_CHECKSUM] += 1
            else:
                out.append(line[1:] if bodies else line)

    def _hold(self, tail: bytes) -> bytes:
        """Keep the unfinished sentence at the end of a chunk, bounded, for the next chunk."""
        start = tail.rfind(b"$")
        if start < 0:
            return b""
        stats = self.stats
        if start:
            cut = tail.count(b"$", 0, start)
            if cut:
                stats.sentences += cut
                stats.rejected[Reject.GARBLED] += cut
            tail = tail[start:]
        if len(tail) > MAX_SENTENCE_CHARS + 2:
            stats.sentences += 1
            garbled = tail.rstrip(b"\r").translate(None, _PRINTABLE)
            stats.rejected[Reject.GARBLED if garbled else Reject.TOO_LONG] += 1
            return b""
        return tail

    def flush(self) -> None:
        """End of stream: an unterminated sentence at the end is counted as garbled and dropped."""
        if self._tail:
            self.stats.sentences += 1
            self.stats.rejected[Reject.GARBLED] += 1
            self._tail = b""
