"""Field parsing per sentence type: units, signs, empty fields as None, malformed as rejected."""

from __future__ import annotations

from datetime import date
from functools import reduce
from operator import xor

import pytest

from drivers.gnss import (
    GGA,
    GLL,
    GNS,
    GSA,
    GST,
    HDT,
    RMC,
    THS,
    VTG,
    ZDA,
    Reject,
    SentenceReader,
    parse_sentence,
)

KNOT = 1852.0 / 3600.0


def nmea(body: str) -> bytes:
    """`$body*hh` with the right checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


def parse(body: str) -> object:
    return parse_sentence(nmea(body))


def test_gga() -> None:
    s = parse("GPGGA,123519.50,4807.038,N,01131.324,W,2,08,0.9,545.4,M,-46.9,M,,")
    assert s == GGA(
        "GP", 45319.5, pytest.approx(48.1173), pytest.approx(-11.5220667), 2, 8, 0.9, 545.4, -46.9
    )


def test_empty_fields_are_none_never_zero() -> None:
    s = parse("GNGGA,123519,4807.038,N,01131.324,E,1,,,,M,,M,,")
    assert isinstance(s, GGA)
    assert (s.satellites, s.hdop, s.altitude_msl, s.geoid_separation) == (None, None, None, None)
    s = parse("GPRMC,123519,A,4807.038,S,01131.324,E,,,230394,,")
    assert isinstance(s, RMC)
    assert (s.speed_mps, s.track_deg, s.faa) == (None, None, None)
    assert s.latitude == pytest.approx(-48.1173)


def test_no_fix_sentences_carry_no_position() -> None:
    gga = parse("GPGGA,071733.929,8960.0000,N,00000.0000,E,0,0,,137.0,M,13.0,M,,")
    assert gga == GGA("GP", pytest.approx(26253.929), None, None, 0, 0, None, None, None)
    rmc = parse("GPRMC,204139.079,V,36000.0000,N,72000.0000,E,0.000000,,290120,,")
    assert isinstance(rmc, RMC)
    assert (rmc.valid, rmc.latitude, rmc.speed_mps, rmc.date) == (False, None, None, None)


def test_rmc_units_date_and_mode() -> None:
    s = parse("GNRMC,000231.099,D,4829.0005,N,00022.0015,E,10.0,212.28,220819,,,D")
    assert s == RMC(
        "GN",
        151.099,
        True,
        pytest.approx(48.4833417),
        pytest.approx(0.3666917),
        pytest.approx(10 * KNOT),
        212.28,
        date(2019, 8, 22),
        "D",
    )
    assert parse("GPRMC,000231,A,4829.0005,N,00022.0015,E,0,0,220899,,") is not None
    old = parse("GPRMC,000231,A,4829.0005,N,00022.0015,E,0,0,220899,,")
    assert isinstance(old, RMC) and old.date == date(1999, 8, 22)


def test_gll_gns_vtg_gsa_gst_zda_hdt_ths() -> None:
    assert parse("GPGLL,4916.45,N,12311.12,W,225444,A,A") == GLL(
        "GP", 82484.0, True, pytest.approx(49.27417), pytest.approx(-123.18533), "A"
    )
    gns = parse(
        "GNGNS,224749.00,3333.4268304,N,11153.3538273,W,DAN,19,0.6,406.110,-26.294,6.0,0138,S"
    )
    assert isinstance(gns, GNS)
    assert (gns.faa, gns.satellites, gns.altitude_msl, gns.nav_status) == ("DAN", 19, 406.11, "S")
    assert parse("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K,A") == VTG(
        "GP", 54.7, pytest.approx(5.5 * KNOT), "A"
    )
    assert parse("GPVTG,054.7,T,,M,,N,036.0,K") == VTG("GP", 54.7, pytest.approx(10.0), None)
    assert parse("GNGSA,A,3,13,16,21,15,,,,,,,,,1.05,0.64,0.83,1") == GSA(
        "GN", 3, 4, 1.05, 0.64, 0.83, 1
    )
    assert parse("GPGSA,A,3,27,23,13,07,25,,,,,,,,,,,,,,,,,,,,07.9,06.0,05.2") == GSA(
        "GP", 3, 5, 7.9, 6.0, 5.2, None
    )
    assert parse("GPGST,172814.0,0.006,0.023,0.020,273.6,0.023,0.020,0.031") == GST(
        "GP", 62894.0, 0.006, 0.023, 0.020, 273.6, 0.023, 0.020, 0.031
    )
    assert parse("GPZDA,201530.00,04,07,2002,00,00") == ZDA("GP", 72930.0, date(2002, 7, 4))
    assert parse("GPHDT,274.07,T") == HDT("GP", 274.07)
    assert parse("GNTHS,77.52,E") == THS("GN", 77.52, "E")


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "GB", "BD", "GQ", "GI", "QZ"])
def test_every_talker(talker: str) -> None:
    assert isinstance(parse(f"{talker}HDT,10.0,T"), HDT)


def test_unknown_talker_unsupported_type_and_proprietary() -> None:
    assert parse("IIHDT,10.0,T") is Reject.BAD_TALKER
    assert parse("GPGSV,1,1,01,01,40,083,46") is Reject.UNSUPPORTED
    assert parse("GPGGAX,1") is Reject.UNSUPPORTED
    assert parse("PGRME,19.2,M,28.7,M,34.6,M") is None


@pytest.mark.parametrize(
    "body",
    [
        "GPGGA,123519,4807.038,N,01131.324,E,1,08,0.9",  # too few fields
        "GPGGA,12:35:19,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,",
        "GPGGA,123519,4867.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,",  # 67 minutes
        "GPGGA,123519,4807.038,X,01131.324,E,1,08,0.9,545.4,M,46.9,M,,",
        "GPGGA,123519,4807.038,N,01131.324,E,1,08,nan,545.4,M,46.9,M,,",
        "GPRMC,000231.099,A,4829.0005,N,00022.0015,E,0.15,212.28,2208-1,,,A",
        "GPRMC,000231.099,A,4829.0005,N,00022.0015,E,0.15,212.28,310219,,,A",
        "GPZDA,201530.00,04,07,0002,00,00",
        "GPGSA,A,1,,,",
    ],
)
def test_malformed_fields_reject_the_sentence(body: str) -> None:
    assert parse(body) is Reject.MALFORMED


def test_reader_counts_everything() -> None:
    stream = b"\r\n".join(
        [
            nmea("GPGGA,123519,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,"),
            nmea("GPGSV,1,1,01,01,40,083,46"),
            nmea("PGRMZ,125,f,3"),
            nmea("XXGGA,1"),
            nmea("GPGGA,1"),
            b"",
        ]
    )
    reader = SentenceReader()
    assert [type(s) for s in reader.feed(stream)] == [GGA]
    assert reader.stats.as_dict() == {
        "bytes": len(stream),
        "sentences": 5,
        "accepted": 1,
        "proprietary": 1,
        "rejected": {
            "bad_checksum": 0,
            "no_checksum": 0,
            "too_long": 0,
            "bad_talker": 1,
            "garbled": 0,
            "malformed": 1,
            "unsupported": 1,
        },
    }
