"""One-shot multi-agent path finding on grid maps: LaCAM with PIBT, then LNS.

`solve(grid, agents, time_limit_s)` returns a validated `MapfResult`; `to_moves` /
`from_moves` read and write the MAPF tracker's move strings; `validate_solution` checks
any solution independently of the planners.
"""

from routing.mapf.moves import MovesFormatError, from_moves, to_moves
from routing.mapf.solution import MapfResult, to_plans, validate_solution
from routing.mapf.solve import Progress, check_agents, lower_bound, solve

__all__ = [
    "MapfResult",
    "MovesFormatError",
    "Progress",
    "check_agents",
    "from_moves",
    "lower_bound",
    "solve",
    "to_moves",
    "to_plans",
    "validate_solution",
]
