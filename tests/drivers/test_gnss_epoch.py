"""Epoch assembly: dates, cycle ends, status and covariance as nmea_navsat_driver maps them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce
from operator import xor

import pytest

from drivers.gnss import (
    CovarianceType,
    ErrorModel,
    Fix,
    GnssDecoder,
    Mode,
    NavSatStatus,
    Service,
    decode_chunks,
)


def nmea(body: str) -> bytes:
    """`$body*hh\\r\\n` with the right checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}\r\n".encode()


def gga(hhmmss: str, quality: int = 1, alt: str = "545.4", hdop: str = "0.9") -> bytes:
    return nmea(f"GPGGA,{hhmmss},4807.038,N,01131.324,E,{quality},08,{hdop},{alt},M,46.9,M,,")


def rmc(hhmmss: str, ddmmyy: str = "230394", status: str = "A", mode: str = "A") -> bytes:
    return nmea(f"GPRMC,{hhmmss},{status},4807.038,N,01131.324,E,022.4,084.4,{ddmmyy},,,{mode}")


def decode(*sentences: bytes, **options: object) -> list[Fix]:
    decoder = GnssDecoder(**options)  # type: ignore[arg-type]
    return decoder.feed(b"".join(sentences)) + decoder.flush()


def test_gga_time_means_nothing_until_rmc_or_zda_gives_the_date() -> None:
    fixes = decode(gga("235958"), gga("235959"), rmc("235959", "311299"), gga("000000"))
    assert [f.time for f in fixes] == [
        None,
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2000, 1, 1, 0, 0, 0, tzinfo=UTC),  # rolled over midnight
    ]


def test_zda_gives_the_date_too() -> None:
    fixes = decode(nmea("GPZDA,101010.25,04,07,2002,00,00"), gga("101010.25"))
    assert fixes[0].time == datetime(2002, 7, 4, 10, 10, 10, 250000, tzinfo=UTC)


def test_an_epoch_merges_its_sentences() -> None:
    (fix,) = decode(gga("123519"), rmc("123519"), nmea("GPVTG,090.0,T,,M,010.0,N,,K,A"))
    assert fix.time == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)
    assert fix.latitude == pytest.approx(48.1173)
    assert fix.longitude == pytest.approx(11.5220667)
    assert (fix.altitude_msl, fix.altitude_hae) == (545.4, pytest.approx(592.3))
    assert fix.speed_mps == pytest.approx(10 * 1852 / 3600)  # the VTG came last
    assert fix.track_deg == 90.0
    assert (fix.mode, fix.status, fix.quality, fix.satellites_used) == (
        Mode.FIX_3D,
        NavSatStatus.FIX,
        1,
        8,
    )


def test_the_cycle_ender_is_learned_and_reports_without_waiting() -> None:
    decoder = GnssDecoder()
    reported = []
    for second in range(10, 16):
        for sentence in (gga(f"1200{second}"), rmc(f"1200{second}")):
            reported.append(len(decoder.feed(sentence)))
    # cycles 10 and 11 end when the next begins, both after an RMC: from cycle 12 on,
    # the RMC reports its own cycle
    assert reported == [0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]
    assert decoder.flush() == []


def test_a_cycle_that_runs_on_is_reported_again_complete() -> None:
    decoder = GnssDecoder()
    for second in range(10, 14):
        decoder.feed(gga(f"1200{second}") + rmc(f"1200{second}"))
    early = decoder.feed(gga("120014") + rmc("120014"))
    assert early[-1].heading_deg is None
    decoder.feed(nmea("GPHDT,274.07,T"))
    (again,) = decoder.feed(gga("120015"))
    assert again.time == early[-1].time
    assert again.heading_deg == 274.07


@pytest.mark.parametrize(
    ("quality", "status", "cov_type"),
    [
        (1, NavSatStatus.FIX, CovarianceType.APPROXIMATED),
        (2, NavSatStatus.SBAS_FIX, CovarianceType.APPROXIMATED),
        (4, NavSatStatus.GBAS_FIX, CovarianceType.APPROXIMATED),
        (5, NavSatStatus.GBAS_FIX, CovarianceType.APPROXIMATED),
        (9, NavSatStatus.GBAS_FIX, CovarianceType.APPROXIMATED),
        (6, NavSatStatus.NO_FIX, CovarianceType.UNKNOWN),
    ],
)
def test_status_from_gga_quality(
    quality: int, status: NavSatStatus, cov_type: CovarianceType
) -> None:
    (fix,) = decode(rmc("123519"), gga("123519", quality))
    assert (fix.status, fix.position_covariance_type) == (status, cov_type)


def test_status_from_rmc_and_gns_modes() -> None:
    assert decode(rmc("123519", mode="D"))[0].status == NavSatStatus.SBAS_FIX
    assert decode(rmc("123519", mode="R"))[0].status == NavSatStatus.GBAS_FIX
    assert decode(rmc("123519", mode=""))[0].status == NavSatStatus.FIX
    gns = nmea("GNGNS,123519,4807.038,N,01131.324,E,NF,12,0.8,545.4,46.9,,,S")
    assert decode(rmc("123519"), gns)[0].status == NavSatStatus.GBAS_FIX


def test_no_fix() -> None:
    (fix,) = decode(rmc("123519", status="V"), gga("123519", quality=0))
    assert (fix.mode, fix.status, fix.latitude) == (Mode.NO_FIX, NavSatStatus.NO_FIX, None)
    assert fix.position_covariance_type == CovarianceType.UNKNOWN


def test_covariance_from_hdop_and_the_configured_error() -> None:
    (fix,) = decode(rmc("123519"), gga("123519", quality=1, hdop="2.0"))
    assert fix.position_covariance == (64.0, 0, 0, 0, 64.0, 0, 0, 0, 256.0)
    model = ErrorModel(epe_m={1: 1.5}, vertical_factor=3.0)
    (fix,) = decode(rmc("123519"), gga("123519", quality=1, hdop="2.0"), error_model=model)
    assert fix.position_covariance == (9.0, 0, 0, 0, 9.0, 0, 0, 0, 81.0)


def test_covariance_from_gst_when_sent() -> None:
    gst = nmea("GPGST,123519,0.006,0.023,0.020,273.6,0.5,0.25,2.0")
    (fix,) = decode(rmc("123519"), gga("123519"), gst)
    assert fix.position_covariance == (0.0625, 0, 0, 0, 0.25, 0, 0, 0, 4.0)
    assert fix.position_covariance_type == CovarianceType.DIAGONAL_KNOWN


def test_heading_from_hdt_and_ths_and_an_invalid_ths_is_ignored() -> None:
    assert decode(rmc("123519"), nmea("GPHDT,274.07,T"))[0].heading_deg == 274.07
    assert decode(rmc("123519"), nmea("GNTHS,77.52,A"))[0].heading_deg == 77.52
    assert decode(rmc("123519"), nmea("GNTHS,77.52,V"))[0].heading_deg is None


def test_a_vtg_marked_not_valid_is_ignored() -> None:
    (fix,) = decode(rmc("123519"), nmea("GPVTG,,T,,M,,N,,K,N"), nmea("GPVTG,1.0,T,,M,2.0,N,,K,N"))
    assert fix.speed_mps == pytest.approx(22.4 * 1852 / 3600)


def test_mode_2d_3d_and_its_persistence() -> None:
    gll = nmea("GPGLL,4807.038,N,01131.324,E,123520,A,A")
    fixes = decode(rmc("123518"), rmc("123519"), gga("123519"), gll)
    assert [f.mode for f in fixes] == [Mode.FIX_2D, Mode.FIX_3D, Mode.FIX_3D]
    gsa3 = nmea("GPGSA,A,3,13,16,21,15,,,,,,,,,1.05,0.64,0.83")
    assert decode(rmc("123518"), gsa3)[0].mode == Mode.FIX_3D


def test_service_bits_from_talkers_and_system_ids() -> None:
    glonass = nmea("GLGSA,A,3,67,84,83,75,,,,,,,,,02.1,01.8,00.9")
    galileo = nmea("GNGSA,A,3,07,12,33,,,,,,,,,,1.05,0.64,0.83,3")
    (fix,) = decode(rmc("123519"), glonass, galileo)
    assert fix.service == Service.GPS | Service.GLONASS | Service.GALILEO


def test_json_form() -> None:
    (fix,) = decode(gga("123519.5"), rmc("123519.5"))
    as_json = fix.to_json()
    assert as_json["time"] == "1994-03-23T12:35:19.500Z"
    assert (as_json["mode"], as_json["status"], as_json["lat"]) == (3, 0, 48.1173)


def test_decode_chunks_is_feed_then_flush() -> None:
    stream = gga("123519") + rmc("123519") + gga("123520") + rmc("123520")
    chunks = [stream[i : i + 9] for i in range(0, len(stream), 9)]
    assert list(decode_chunks(chunks)) == decode(stream)


# gpsd's rule (drivers/driver_nmea0183.c, processGGA): from a GP or GN talker, a GGA with fewer
# than 3 satellites used has no fix, whatever its quality says; an empty count is 0 (atoi).


def gga_sats(hhmmss: str, used: str, quality: int = 1, talker: str = "GP") -> bytes:
    return nmea(
        f"{talker}GGA,{hhmmss},4807.038,N,01131.324,E,{quality},{used},1.2,545.4,M,46.9,M,,"
    )


ZDA = nmea("GPZDA,123519,23,03,1994,00,00")


def test_a_receiver_without_a_real_fix_yet_gives_none() -> None:
    """Quality 1 and 0 satellites before the real fix, then 8 satellites: one fix, the last."""
    fixes = decode(
        ZDA,
        gga_sats("123519", "00"),
        rmc("123519", status="V"),
        gga_sats("123520", "00"),
        gga_sats("123521", "08"),
        rmc("123521"),
    )
    early, alone, real = fixes
    for fix in (early, alone):
        assert (fix.mode, fix.status) == (Mode.NO_FIX, NavSatStatus.NO_FIX)
        assert (fix.latitude, fix.longitude, fix.altitude_msl) == (None, None, None)
        assert (fix.quality, fix.satellites_used) == (1, 0)  # what the receiver said
        assert fix.position_covariance_type == CovarianceType.UNKNOWN
    assert alone.time == datetime(1994, 3, 23, 12, 35, 20, tzinfo=UTC)
    assert (real.mode, real.status, real.satellites_used) == (Mode.FIX_3D, NavSatStatus.FIX, 8)
    assert real.latitude == pytest.approx(48.1173)


@pytest.mark.parametrize(
    ("talker", "used", "quality", "fixed"),
    [
        ("GP", "00", 1, False),
        ("GP", "0", 2, False),  # any quality
        ("GN", "02", 4, False),
        ("GP", "", 1, False),  # no count is 0 satellites, as gpsd reads it
        ("GP", "03", 1, True),
        ("GN", "3", 1, True),
        ("GN", "12", 5, True),
        ("GL", "02", 1, True),  # one constellation's count: others may carry the fix
        ("GA", "01", 1, True),
        ("BD", "00", 1, True),
        ("GP", "08", 0, False),  # quality 0 is no fix, however many satellites
    ],
)
def test_gga_satellites_used_decide_as_gpsd_does(
    talker: str, used: str, quality: int, fixed: bool
) -> None:
    (fix,) = decode(ZDA, gga_sats("123519", used, quality, talker))
    assert (fix.mode >= Mode.FIX_2D, fix.latitude is not None) == (fixed, fixed)
    assert (fix.status != NavSatStatus.NO_FIX) == (fixed and quality in (1, 2, 4, 5))


def test_the_last_word_of_the_epoch_decides_as_in_gpsd() -> None:
    """gpsd processes sentences in order: a valid RMC after the GGA gives a (2D) fix, a GGA
    with 0 satellites after the RMC takes it away."""
    (rescued,) = decode(ZDA, gga_sats("123519", "00"), rmc("123519"))
    assert (rescued.mode, rescued.status) == (Mode.FIX_2D, NavSatStatus.FIX)
    assert rescued.altitude_msl is None  # the GGA's altitude was not taken
    (withdrawn,) = decode(rmc("123519"), gga_sats("123519", "00"))
    assert (withdrawn.mode, withdrawn.status) == (Mode.NO_FIX, NavSatStatus.NO_FIX)
    assert withdrawn.position_covariance_type == CovarianceType.UNKNOWN
