"""Service points as places a truck goes to: which spot serves a job's end, and who has it.

A spot holds one truck. The dispatcher books a spot for the truck heading to it (or standing
on it) and sends nobody else there until it is given back; a quay crane's queue siding takes
the next truck while one is served. Block ends go to the transfer point nearest the bay.
"""

from __future__ import annotations

from collections.abc import Iterable

from fleet.jobs import Place, PlaceKind
from maps import ServicePointKind, Yard


class Spots:
    """Bookings of the yard's service points, and the spots of cranes, blocks, gates, pumps."""

    def __init__(self, yard: Yard) -> None:
        self.yard = yard
        self.booked: dict[str, str] = {}
        self.qc_spot: dict[str, str] = {}
        self.qc_queue: dict[str, str] = {}
        self.block_tps: dict[str, list[tuple[int, str]]] = {}
        for sp in yard.service_points.values():
            if sp.kind is ServicePointKind.QUAY_CRANE and sp.crane:
                self.qc_spot[sp.crane] = sp.id
            elif sp.kind is ServicePointKind.QUEUE and sp.crane:
                self.qc_queue[sp.crane] = sp.id
            elif sp.kind is ServicePointKind.TRANSFER_POINT and sp.area:
                self.block_tps.setdefault(sp.area, []).append((sp.bay or 0, sp.id))
        self.pumps = [sp.id for sp in yard.service_points_of(ServicePointKind.FUEL_PUMP)]
        self.parking = [sp.id for sp in yard.service_points_of(ServicePointKind.PARKING)]
        self.crane_of_spot = {v: k for k, v in self.qc_spot.items()}
        self.queue_spots = set(self.qc_queue.values())

    def nominal(self, place: Place) -> str:
        """The spot that stands for a place in travel-time tables (a block's: nearest its bay)."""
        if place.kind is PlaceKind.QUAY_CRANE:
            return self.qc_spot[place.id]
        if place.kind is PlaceKind.YARD:
            return self.tps_by_bay(place.id, place.bay)[0]
        return place.id

    def tps_by_bay(self, block: str, bay: int | None) -> list[str]:
        """A block's transfer points, nearest to `bay` first."""
        tps = self.block_tps.get(block)
        if not tps:
            raise KeyError(f"block {block!r} has no transfer points")
        return [sp for _, sp in sorted(tps, key=lambda t: (abs(t[0] - (bay or 0)), t[1]))]

    def serving(self, place: Place, standing_at: str | None = None) -> list[str]:
        """The spots a truck for `place` waits for: a quay crane's, and its queue siding
        unless the truck stands there; a block's transfer points; a gate lane."""
        if place.kind is PlaceKind.QUAY_CRANE:
            queue = self.qc_queue.get(place.id)
            spots = [self.qc_spot[place.id]]
            return [*spots, queue] if queue and standing_at != queue else spots
        if place.kind is PlaceKind.YARD:
            return self.tps_by_bay(place.id, place.bay)
        return [place.id]

    def candidates(self, spot: str) -> list[str]:
        """Spots that may stand in for `spot` (another transfer point of the same block)."""
        sp = self.yard.service_point(spot)
        if sp.kind is ServicePointKind.TRANSFER_POINT and sp.area:
            return self.tps_by_bay(sp.area, sp.bay)
        return [spot]

    def holder(self, spot: str) -> str | None:
        """Who has the spot booked."""
        return self.booked.get(spot)

    def free(self, spot: str, truck: str) -> bool:
        """Whether `truck` may book it (nobody else has)."""
        return self.booked.get(spot, truck) == truck

    def book(self, spot: str, truck: str) -> None:
        """Book a spot for a truck (it must be free for it)."""
        other = self.booked.get(spot)
        if other is not None and other != truck:
            raise ValueError(f"spot {spot} is booked by {other}, not free for {truck}")
        self.booked[spot] = truck

    def give_back(self, spot: str | None, truck: str) -> bool:
        """The truck leaves the spot: free it (True if it had it)."""
        if spot is not None and self.booked.get(spot) == truck:
            del self.booked[spot]
            return True
        return False

    def first_free(self, spots: Iterable[str], truck: str) -> str | None:
        """The first of the spots the truck may book."""
        return next((s for s in spots if self.free(s, truck)), None)
