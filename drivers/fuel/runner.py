"""One fuel sensor on one serial port, whatever its protocol: litres in, readings out.

`FuelRunner` is what the onboard agent and `yardfleet fuel read` use. It opens the port
through a reconnecting `SerialLink`, polls the sensor (LLS polled mode, Modbus RTU) or
listens (LLS periodic mode with `poll_s` 0, J1939 through an SLCAN adapter, which it opens on
every connect), and turns what comes back into `FuelReading`s through the tank's calibration
table. A sensor that stops answering counts a timeout and yields an invalid reading that
says so — or, while the port itself is not open, that the port is not (with the OS's reason:
the sensor is not to blame); `on_port` hears at once when the port cannot be opened, goes
away or is back (`drivers.serialport.PortEvent`). Bad frames are counted, never raised.
With a `TheftConfig` it also watches for litres falling while the truck stands still (speed
from J1939 or from `set_speed`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from drivers.serialport import LinkStats, PortEvent, SerialLink

from . import j1939, lls, modbus
from .calibration import Calibration
from .reading import AnswerWatch, FuelReading, FuelStats, calibrated
from .theft import FuelDropEvent, TheftConfig, TheftDetector

PROTOCOLS = ("lls", "j1939", "modbus")
DEFAULT_BAUDRATES = {
    "lls": lls.DEFAULT_BAUDRATE,
    "j1939": 115200,  # USB adapters ignore it; UART ones mostly run 115200
    "modbus": modbus.DEFAULT_BAUDRATE,
}
SPEED_MAX_AGE_S = 10.0
"""A speed older than this is not trusted to say whether the truck stands."""


@dataclass(frozen=True, slots=True)
class J1939Extra:
    """The latest vehicle values from the bus; None until heard or while "not available"."""

    time: float | None = None
    level_pct: float | None = None
    speed_kmh: float | None = None
    battery_v: float | None = None
    fuel_rate_lph: float | None = None
    total_fuel_used_l: float | None = None


_EXTRA_FIELD = {
    j1939.PGN_FUEL_LEVEL: "level_pct",
    j1939.PGN_SPEED: "speed_kmh",
    j1939.PGN_BATTERY: "battery_v",
    j1939.PGN_FUEL_RATE: "fuel_rate_lph",
    j1939.PGN_FUEL_USED: "total_fuel_used_l",
}


class FuelRunner:
    """Reads one fuel sensor on its own thread; `latest`, `stats` and callbacks report it."""

    def __init__(
        self,
        url: str,
        protocol: str,
        *,
        address: int = 1,
        baudrate: int | None = None,
        calibration: Calibration | None = None,
        poll_s: float = 1.0,
        timeout_s: float = 3.0,
        register_map: modbus.RegisterMap | None = None,
        on_reading: Callable[[FuelReading], None] | None = None,
        can_bitrate: int = 250_000,
        theft: TheftConfig | None = None,
        on_event: Callable[[FuelDropEvent], None] | None = None,
        on_port: Callable[[PortEvent], None] | None = None,
        report_every_s: float = 0.0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.url = url
        self.protocol = protocol
        self.address = address
        self.calibration = calibration
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.register_map = register_map if register_map is not None else modbus.DEFAULT_MAP
        self.on_reading = on_reading
        self.on_event = on_event
        self._stats = FuelStats()
        self._latest: FuelReading | None = None
        self._extra = J1939Extra()
        self._speed: tuple[float, float] | None = None  # (monotonic time, km/h) from outside
        self._bus_speed: tuple[float, float] | None = None  # the same, from J1939 CCVS1
        self._theft = TheftDetector(theft) if theft is not None else None
        self._chunks: queue.Queue[bytes] = queue.Queue()
        self._stop = threading.Event()
        self._started = False
        self._thread = threading.Thread(target=self._run, name=f"fuel {url}", daemon=True)
        self._request = b""
        self._open_sequence: list[bytes] = []
        self._lls: lls.LlsParser | None = None
        self._modbus: modbus.ModbusParser | None = None
        self._j1939: j1939.J1939Decoder | None = None
        if protocol == "lls":
            self._lls = lls.LlsParser(address=address, stats=self._stats)
            self._request = lls.request(address)
        elif protocol == "modbus":
            self._request = self.register_map.request(address)
            self._modbus = modbus.ModbusParser(
                address,
                self.register_map.function,
                self.register_map.count,
                request=self._request,
                stats=self._stats,
            )
        else:
            self._j1939 = j1939.J1939Decoder(stats=self._stats)
            self._open_sequence = j1939.open_commands(can_bitrate)
        self.link = SerialLink(
            url,
            self._chunks.put,
            baudrate=baudrate or DEFAULT_BAUDRATES[protocol],
            on_event=on_port,
            report_every_s=report_every_s,
        )

    @property
    def polled(self) -> bool:
        """True when the driver asks (LLS with `poll_s` > 0, Modbus); False when it listens."""
        return self.protocol == "modbus" or (self.protocol == "lls" and self.poll_s > 0)

    @property
    def latest(self) -> FuelReading | None:
        """The newest reading (an invalid one, with its reason, while the sensor is silent)."""
        return self._latest

    @property
    def latest_j1939(self) -> J1939Extra:
        """The newest J1939 vehicle values (all None for other protocols)."""
        return self._extra

    @property
    def stats(self) -> FuelStats:
        """Frames, bad CRCs, short frames, unknown frames or PGNs, timeouts ..."""
        return self._stats

    @property
    def link_stats(self) -> LinkStats:
        """The port's own counts: bytes, connects, disconnects, the last error."""
        return self.link.stats

    def set_speed(self, speed_kmh: float) -> None:
        """The truck's speed now (from GNSS), for the theft/leak watch; overrides J1939's."""
        self._speed = (time.monotonic(), speed_kmh)

    def start(self) -> FuelRunner:
        """Open the port and start reading (returns at once)."""
        self._started = True
        self.link.start()
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop reading, close the adapter's channel and the port, report an open drop event."""
        self._stop.set()
        if not self._started:
            return
        self._thread.join(timeout_s)
        if self._open_sequence:
            self.link.write(j1939.CLOSE_COMMAND)
        self.link.stop(timeout_s)
        if self._theft is not None:
            self._events(self._theft.flush())

    def __enter__(self) -> FuelRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the reading thread -------------------------------------------------------------

    def _run(self) -> None:
        now = time.monotonic()
        watch = AnswerWatch(self._stats, self.timeout_s, now)
        connects = 0
        next_poll = now
        while not self._stop.is_set():
            now = time.monotonic()
            if self.link.stats.connects != connects and self.link.stats.connected:
                connects = self.link.stats.connects
                for command in self._open_sequence:
                    self.link.write(command)
            if self.polled and now >= next_poll:
                if self._modbus is not None:
                    self._modbus.flush()  # an unfinished answer to the last poll will not end
                self.link.write(self._request)
                next_poll = now + max(self.poll_s, 0.01)
            wait = 0.05 if not self.polled else max(0.0, min(0.05, next_poll - now))
            try:
                chunk = self._chunks.get(timeout=wait)
            except queue.Empty:
                chunk = b""
            if chunk:
                try:
                    if self._handle(chunk, time.monotonic()):
                        watch.heard(time.monotonic())
                except Exception as exc:  # a parser bug must not stop the sensor
                    self._stats.errors += 1
                    self.link.stats.last_error = f"fuel driver: {exc!r}"
            before = self._stats.timeouts
            if watch.check(time.monotonic()) and self._stats.timeouts != before:
                self._silent()

    def _handle(self, chunk: bytes, now: float) -> bool:
        """Parse a chunk; True when the sensor answered."""
        wall = time.time()
        heard = False
        if self._lls is not None:
            for frame in self._lls.feed(chunk, now):
                self._publish(frame.reading(wall, self.calibration))
                heard = True
        elif self._modbus is not None:
            for response in self._modbus.feed(chunk):
                heard = True
                self._publish(self._from_modbus(response, wall))
        elif self._j1939 is not None:
            for value in self._j1939.feed(chunk, now):
                heard = self._from_j1939(value, wall) or heard
        return heard

    def _from_modbus(self, response: modbus.ModbusResponse, wall: float) -> FuelReading:
        source = f"modbus:{self.address}"
        if response.exception is not None:
            last = self._latest
            return FuelReading(
                wall,
                last.litres if last is not None else None,
                last.level_raw if last is not None else None,
                last.temperature_c if last is not None else None,
                False,
                source,
                f"sensor answered {response.exception_text}",
            )
        level, temperature = self.register_map.decode(response.registers)
        return calibrated(wall, level, self.calibration, source=source, temperature_c=temperature)

    def _from_j1939(self, value: j1939.J1939Value, wall: float) -> bool:
        """Keep a J1939 value; True when it was the fuel level (the 'answer' we watch for)."""
        name = _EXTRA_FIELD[value.pgn]
        self._extra = replace(self._extra, time=wall, **{name: value.value})
        if value.pgn == j1939.PGN_SPEED and value.value is not None:
            self._bus_speed = (time.monotonic(), value.value)
        if value.pgn != j1939.PGN_FUEL_LEVEL:
            return False
        source = f"j1939:{value.source}"
        if value.value is None:
            raw = f"0x{value.raw:02X}"
            self._publish(
                FuelReading(
                    wall, None, None, None, False, source, f"fuel level {value.status} ({raw})"
                )
            )
        else:
            self._publish(calibrated(wall, value.value, self.calibration, source=source))
        return True

    def _silent(self) -> None:
        """The sensor went quiet: an invalid reading that keeps the last litres as a guess."""
        last = self._latest
        what = {
            "lls": f"LLS sensor {self.address}",
            "modbus": f"Modbus sensor {self.address}",
            "j1939": "J1939 fuel level (PGN 65276)",
        }[self.protocol]
        reason = f"no answer from {what} for {self.timeout_s:g} s"
        link = self.link.stats
        if not link.connected:  # not the sensor's fault: nothing could be asked
            why = f": {link.open_error}" if link.open_error else ""
            reason = f"port {self.url} not open{why}"
        if last is not None:
            reading = replace(last, time=time.time(), valid=False, reason=reason)
        else:
            source = (
                self.protocol if self.protocol == "j1939" else f"{self.protocol}:{self.address}"
            )
            reading = FuelReading(time.time(), None, None, None, False, source, reason)
        self._publish(reading, watch=False)

    def _publish(self, reading: FuelReading, *, watch: bool = True) -> None:
        self._latest = reading
        if self.on_reading is not None:
            try:
                self.on_reading(reading)
            except Exception as exc:  # the consumer's bug must not stop the sensor
                self._stats.errors += 1
                self.link.stats.last_error = f"on_reading: {exc!r}"
        if watch and self._theft is not None and reading.valid and reading.litres is not None:
            speed = self._speed_now()
            if speed is not None:
                self._events(self._theft.feed(reading.time, reading.litres, speed))

    def _speed_now(self) -> float | None:
        """The freshest trusted speed: from outside (GNSS) first, else from the bus."""
        now = time.monotonic()
        for stamped in (self._speed, self._bus_speed):
            if stamped is not None and now - stamped[0] <= SPEED_MAX_AGE_S:
                return stamped[1]
        return None

    def _events(self, events: list[FuelDropEvent]) -> None:
        if self.on_event is None:
            return
        for event in events:
            try:
                self.on_event(event)
            except Exception as exc:  # the consumer's bug must not stop the sensor
                self._stats.errors += 1
                self.link.stats.last_error = f"on_event: {exc!r}"
