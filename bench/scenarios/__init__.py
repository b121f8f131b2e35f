"""The eight measured scenarios, one module each: each takes the Run and returns its figures.

A scenario whose portal piece is missing returns {"status": "not run: <why>"}.
"""

from bench.scenarios.bulk import BULK_USERS, bulk
from bench.scenarios.common import BULK_WORKER
from bench.scenarios.confirm import confirm
from bench.scenarios.faults import faults
from bench.scenarios.neighbour import NEIGHBOUR_USERS, neighbour
from bench.scenarios.overhead import overhead
from bench.scenarios.refresh_storm import refresh_storm
from bench.scenarios.throughput import throughput
from bench.scenarios.worklist import worklist

__all__ = ["BULK_USERS", "BULK_WORKER", "NEIGHBOUR_USERS", "REGISTRY"]

REGISTRY = {
    "overhead": overhead,
    "worklist": worklist,
    "throughput": throughput,
    "refresh_storm": refresh_storm,
    "faults": faults,
    "confirm": confirm,
    "bulk": bulk,
    "neighbour": neighbour,
}
