"""NMEA 0183 GNSS receivers: bytes → checksummed sentences → one fix per epoch, as gpsd reads them.

`GnssDecoder().feed(chunk)` returns the fixes a chunk completes; `.stats` says what was
accepted and why the rest was rejected. Standard library only: this runs on every truck.
"""

from .decoder import GnssDecoder, SentenceReader, decode_chunks
from .epoch import EpochAssembler
from .fix import CovarianceType, ErrorModel, Fix, Mode, NavSatStatus, Service
from .records import GGA, GLL, GNS, GSA, GST, HDT, RMC, THS, VTG, ZDA, Sentence
from .scanner import MAX_SENTENCE_CHARS, NmeaScanner, checksum
from .sentences import TALKERS, parse_bodies, parse_body, parse_sentence
from .stats import GnssStats, Reject

__all__ = [
    "GGA",
    "GLL",
    "GNS",
    "GSA",
    "GST",
    "HDT",
    "MAX_SENTENCE_CHARS",
    "RMC",
    "TALKERS",
    "THS",
    "VTG",
    "ZDA",
    "CovarianceType",
    "EpochAssembler",
    "ErrorModel",
    "Fix",
    "GnssDecoder",
    "GnssStats",
    "Mode",
    "NavSatStatus",
    "NmeaScanner",
    "Reject",
    "Sentence",
    "SentenceReader",
    "Service",
    "checksum",
    "decode_chunks",
    "parse_bodies",
    "parse_body",
    "parse_sentence",
]
