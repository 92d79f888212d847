"""Sentences → one Fix per epoch (time of fix), merged as gpsd merges a receiver's reporting cycle.

An epoch starts when a timed sentence (GGA, RMC, GLL, GNS, ZDA) brings a new time; untimed
ones (GSA, VTG, GST, HDT, THS) join the epoch under way. Times need a date: RMC or ZDA give
it, and it carries on (over midnight too) for receivers that send GGA alone. Like gpsd, the
assembler learns which sentence ends the receiver's cycle and reports each fix as that
sentence arrives, not one cycle later; a cycle that turns out longer is reported again,
complete, when the next time starts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from .fix import (
    STATUS_BY_QUALITY,
    UNKNOWN_COVARIANCE,
    CovarianceType,
    ErrorModel,
    Fix,
    Mode,
    NavSatStatus,
)
from .merge import MERGE, SERVICE_BY_TALKER, EpochState
from .records import TIMED, Sentence

_HALF_DAY_S = 43_200.0
_new = tuple.__new__


class EpochAssembler:
    """Feeds sentences in, gets fixes out: `add` returns the fix an epoch completes, if any."""

    def __init__(self, error_model: ErrorModel | None = None) -> None:
        self.error_model = error_model if error_model is not None else ErrorModel()
        self._epoch = EpochState()
        self._reported = False
        self._date: date | None = None
        self._date_tod: float | None = None
        self._midnight: tuple[date, datetime] | None = None
        self._ender: tuple[type, str, int] | None = None
        self._candidate: tuple[type, str, int] | None = None
        self._last_mode = Mode.UNKNOWN

    def add(self, s: Sentence) -> Fix | None:
        """Merge one sentence; the fix of an epoch it completes (or whose cycle it ends)."""
        done: Fix | None = None
        e = self._epoch
        kind = s.__class__
        if isinstance(s, TIMED) and s.tod is not None:
            key = round(s.tod * 100.0)
            if e.key is None:
                e.key, e.tod = key, s.tod
            elif key != e.key:
                self._learn(e.last_kind)
                if not self._reported:
                    done = self._fix(e)
                e = self._epoch = EpochState()
                e.key, e.tod = key, s.tod
                self._reported = False
        if self._reported:  # the cycle goes on after its fix was reported: report it again
            self._reported = False
            self._ender = None
        e.service |= SERVICE_BY_TALKER.get(s.talker, 0)
        MERGE[kind](e, s)
        seen = (kind, s.talker)
        count = e.counts.get(seen, 0) + 1
        e.counts[seen] = count
        e.last_kind = last = (kind, s.talker, count)
        if last == self._ender and done is None and e.key is not None:
            self._reported = True
            return self._fix(e)
        return done

    def flush(self) -> Fix | None:
        """End of stream: the fix of the epoch under way, unless it was reported already."""
        e = self._epoch
        self._epoch = EpochState()
        if self._reported or e.last_kind is None:
            self._reported = False
            return None
        return self._fix(e)

    def _learn(self, last: tuple[type, str, int] | None) -> None:
        """The sentence that ended a cycle twice running ends every cycle until it doesn't."""
        if last == self._candidate:
            self._ender = last
        else:
            self._candidate, self._ender = last, None

    def _time(self, e: EpochState) -> datetime | None:
        """The epoch's UTC time: its own date, else the last one given, rolled over midnight."""
        if e.tod is None:
            return None
        day = e.date
        if day is None:
            day = self._date
            if day is None:
                return None
            if self._date_tod is not None and e.tod < self._date_tod - _HALF_DAY_S:
                day += timedelta(days=1)
        self._date, self._date_tod = day, e.tod
        if self._midnight is None or self._midnight[0] != day:
            self._midnight = (day, datetime(day.year, day.month, day.day, tzinfo=UTC))
        return self._midnight[1] + timedelta(seconds=e.tod)

    def _fix(self, e: EpochState) -> Fix:
        """The epoch's fix: mode and status from what the receiver claimed, covariance modelled.

        Mode follows gpsd: 3D once an altitude or a 3D GSA is seen, and it stays 3D while the
        fix stays valid (gpsd does not downgrade a 3D fix for a sentence without altitude).
        A fix of mode 1 (no fix) has no covariance, whatever quality an earlier sentence said.
        """
        quality = e.quality
        if e.valid is False:
            mode, status = Mode.NO_FIX, NavSatStatus.NO_FIX
        else:
            if quality is None and e.valid:
                quality = 1  # a valid position with no quality said: an unaugmented fix
            status = NavSatStatus.NO_FIX
            if quality is not None:
                status = STATUS_BY_QUALITY.get(quality, NavSatStatus.NO_FIX)
            if e.lat is None:
                mode = Mode.NO_FIX if e.valid is not None or e.fix_type == 1 else Mode.UNKNOWN
            elif e.alt is not None or e.fix_type == 3 or self._last_mode == Mode.FIX_3D:
                mode = Mode.FIX_3D
            else:
                mode = Mode.FIX_2D
        self._last_mode = mode
        if mode == Mode.NO_FIX:  # no error to give for a position the receiver does not vouch for
            cov, cov_type = UNKNOWN_COVARIANCE, CovarianceType.UNKNOWN
        else:
            cov, cov_type = self.error_model.covariance(quality, e.hdop, e.sigmas)
        sats = e.sats if e.sats is not None else (e.sats_gsa or None)
        hae = None if e.alt is None or e.sep is None else e.alt + e.sep
        return _new(
            Fix,
            (
                self._time(e),
                e.lat,
                e.lon,
                e.alt,
                hae,
                e.sep,
                mode,
                status,
                e.service,
                quality,
                sats,
                e.hdop,
                e.speed,
                e.track,
                e.heading,
                cov,
                cov_type,
            ),
        )
