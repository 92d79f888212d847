"""Bytes in, fixes out: the scanner, the sentence parsers and the epoch assembler in one loop."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .epoch import EpochAssembler
from .fix import ErrorModel, Fix
from .records import Sentence
from .scanner import NmeaScanner
from .sentences import dispatch_table, parse_bodies
from .stats import GnssStats


class SentenceReader:
    """Bytes → accepted sentence records, counting everything else; never raises on bad input."""

    def __init__(
        self,
        *,
        require_checksum: bool = True,
        kinds: Iterable[str] | None = None,
        stats: GnssStats | None = None,
    ) -> None:
        """`kinds` limits decoding to those types ("GGA", "RMC", …); the rest count unsupported."""
        self.stats = stats if stats is not None else GnssStats()
        self.scanner = NmeaScanner(require_checksum=require_checksum, stats=self.stats)
        self._table = dispatch_table(kinds)

    def feed(self, data: bytes) -> list[Sentence]:
        """The records of the sentences that `data` completes and that pass every check."""
        stats = self.stats
        records, proprietary = parse_bodies(self.scanner.scan(data), stats.rejected, self._table)
        stats.accepted += len(records)
        stats.proprietary += proprietary
        return records

    def flush(self) -> None:
        """End of stream: count an unterminated last sentence."""
        self.scanner.flush()


class GnssDecoder:
    """A receiver's byte stream → one Fix per epoch, with statistics; `feed` in any chunk size."""

    def __init__(
        self, *, require_checksum: bool = True, error_model: ErrorModel | None = None
    ) -> None:
        self.reader = SentenceReader(require_checksum=require_checksum)
        self.epochs = EpochAssembler(error_model)

    @property
    def stats(self) -> GnssStats:
        """Bytes, sentences, accepted, proprietary and rejected-by-reason counts so far."""
        return self.reader.stats

    def feed(self, data: bytes) -> list[Fix]:
        """The fixes that `data` completes."""
        add = self.epochs.add
        fixes: list[Fix] = []
        for sentence in self.reader.feed(data):
            fix = add(sentence)
            if fix is not None:
                fixes.append(fix)
        return fixes

    def flush(self) -> list[Fix]:
        """End of stream: the fix of the last epoch, if it was not reported yet."""
        self.reader.flush()
        fix = self.epochs.flush()
        return [] if fix is None else [fix]


def decode_chunks(
    chunks: Iterable[bytes], *, require_checksum: bool = True, error_model: ErrorModel | None = None
) -> Iterator[Fix]:
    """Every fix in a stream given as chunks, the last epoch included."""
    decoder = GnssDecoder(require_checksum=require_checksum, error_model=error_model)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()
