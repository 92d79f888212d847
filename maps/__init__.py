"""The yard: lane graph with geometry, areas, service points, geo-reference, map-matching.

The public interface of the room; other rooms import from here (or from the modules
named below), never from private helpers.
"""

from maps.errors import MapFormatError, Problem, UnknownFeatureError, YardError, YardFileError
from maps.generator import TerminalSpec, generate_terminal
from maps.geojson import load_yard, parse_yard, save_yard, validate_file, yard_to_geojson
from maps.georef import LocalFrame
from maps.matching import MapMatcher, Match, Matches, match_positions
from maps.model import (
    THROUGH_LANE_KINDS,
    Area,
    AreaKind,
    Crane,
    CraneKind,
    Lane,
    LaneKind,
    Node,
    Origin,
    ServicePoint,
    ServicePointKind,
    Yard,
    yard_differences,
)
from maps.movingai import GridMap, ScenarioAgent, read_map, read_scenario
from maps.terminals import DEFAULT_TERMINAL, TERMINALS, terminal
from maps.validate import check_yard

__all__ = [
    "DEFAULT_TERMINAL",
    "TERMINALS",
    "THROUGH_LANE_KINDS",
    "Area",
    "AreaKind",
    "Crane",
    "CraneKind",
    "GridMap",
    "Lane",
    "LaneKind",
    "LocalFrame",
    "MapFormatError",
    "MapMatcher",
    "Match",
    "Matches",
    "Node",
    "Origin",
    "Problem",
    "ScenarioAgent",
    "ServicePoint",
    "ServicePointKind",
    "TerminalSpec",
    "UnknownFeatureError",
    "Yard",
    "YardError",
    "YardFileError",
    "check_yard",
    "generate_terminal",
    "load_yard",
    "match_positions",
    "parse_yard",
    "read_map",
    "read_scenario",
    "save_yard",
    "terminal",
    "validate_file",
    "yard_differences",
    "yard_to_geojson",
]
