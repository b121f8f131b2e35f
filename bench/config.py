"""The settings of a bench run: defaults, environment variables, command-line flags."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field

# confirm, bulk and neighbour run before throughput: they measure
# confirmation with the worker idle, not throughput's backlog.
SCENARIOS = (
    "overhead",
    "worklist",
    "confirm",
    "bulk",
    "neighbour",
    "throughput",
    "refresh_storm",
    "faults",
)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass
class Settings:
    """Every knob of a run; written into latest.json next to the figures."""

    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    quick: bool = False
    # Servers
    portal_workers: int = 4
    portal_threads: int = 8
    sandbox_workers: int = 2
    # Persistent PostgreSQL connections: one per thread of each server, so
    # 4 x 8 + 2 x 20 = 72 stay under the default max_connections of 100.
    sandbox_threads: int = 20
    # Idle keep-alive of the sandbox, standing in for Canvas behind a load
    # balancer (nginx keeps 75 s, AWS load balancers 60 s); gunicorn's own
    # default of 2 s makes the portal's pooled connections race its closes.
    sandbox_keepalive_s: int = 75
    postgres_url: str = "postgres://postgres@127.0.0.1:5432"
    portal_db: str = "portal_bench"
    sandbox_db: str = "sandbox_bench"
    canvas_read_timeout: float = 3.0
    # The worker confirming accepted actions (django_tasks_db's db_worker),
    # beside the portal, and the portal's NOTES_CONFIRM_SECONDS: short, so an
    # action Canvas refused settles as "not applied" within a few seconds
    # (production's default is 30 s).
    confirm_workers: int = 1
    confirm_seconds: float = 3.0
    # 1. overhead
    overhead_iterations: int = 250
    overhead_latencies_ms: list[int] = field(default_factory=lambda: [0, 50])
    # 2. worklist
    worklist_renders: int = 30
    worklist_sizes: list[int] = field(default_factory=lambda: [10, 50])
    # 3. throughput
    throughput_users: int = 50
    throughput_seconds: float = 60.0
    throughput_latency_ms: int = 50
    # 4. refresh storm
    storm_requests: int = 50
    storm_rounds: int = 3
    # 5. faults
    faults_users: int = 10
    faults_seconds: float = 60.0
    faults_error_rate: float = 0.1
    faults_spike_ms: int = 1500
    faults_timeout_spike_ms: int = 4000
    # 6. confirm
    # Two users at a time: each polls every 25 ms, which on a small machine is
    # load of its own (the figures then measure the CPU, not the confirmation).
    confirm_users: int = 2
    confirm_actions: int = 48
    confirm_latency_ms: int = 50
    confirm_effect_delay_ms: int = 300
    confirm_reject_rate: float = 0.1
    # The sandbox draws each refusal from (seed, n-th acceptance): with 19, two of
    # the first 12 acceptances (--quick) and five of the first 48 are refused.
    confirm_seed: int = 19
    confirm_poll_ms: int = 25
    # An attempt still unresolved this long after its deadline counts as unresolved.
    confirm_margin_s: float = 5.0
    # 7. bulk ("close my day"): one provider signs this many notes in one run,
    # twice: Canvas applying every effect, then refusing a share of them.
    bulk_notes: int = 50
    bulk_latency_ms: int = 50
    bulk_effect_delay_ms: int = 300
    bulk_reject_rate: float = 0.1
    # The same draw as confirm's: with 19, 5 of the first 50 acceptances are
    # refused, 2 of the first 20 (--quick).
    bulk_seed: int = 19
    bulk_poll_ms: int = 50
    # A run whose progress has not answered 286 by then "never finished".
    bulk_give_up_s: float = 120.0
    # 8. neighbour: one provider's bulk run of this many notes while another
    # clicks single actions, one every neighbour_pace_ms (not waiting for
    # each to settle); the same clicks with no run going (before and after)
    # are the baseline. Both poll as the pages do: an attempt every 1 s,
    # the run's progress every 500 ms (the figure is the rows' own times).
    neighbour_notes: int = 200
    neighbour_actions: int = 20
    neighbour_pace_ms: int = 300
    neighbour_latency_ms: int = 50
    neighbour_effect_delay_ms: int = 300
    neighbour_poll_ms: int = 1000
    neighbour_progress_poll_ms: int = 500
    # Safety net: no HTTP call of the load clients waits longer than this.
    client_timeout: float = 20.0

    def as_dict(self) -> dict:
        """Return the settings as plain JSON data."""
        return asdict(self)


QUICK = {
    "overhead_iterations": 30,
    "worklist_renders": 5,
    "throughput_users": 10,
    "throughput_seconds": 8.0,
    "storm_requests": 20,
    "storm_rounds": 1,
    "faults_users": 4,
    "faults_seconds": 12.0,
    "confirm_actions": 12,
    "bulk_notes": 20,
    "neighbour_notes": 60,
    "neighbour_actions": 8,
}


def _parser() -> argparse.ArgumentParser:
    """Return the command line's parser (its defaults read BENCH_* variables)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the portal against the Canvas sandbox (see bench/README.md).",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--scenarios",
        default=os.environ.get("BENCH_SCENARIOS", ",".join(SCENARIOS)),
        help=f"comma list out of {','.join(SCENARIOS)}",
    )
    parser.add_argument("--workers", type=int, default=_env_int("BENCH_PORTAL_WORKERS", 4))
    parser.add_argument("--threads", type=int, default=_env_int("BENCH_PORTAL_THREADS", 8))
    parser.add_argument("--iterations", type=int, default=None, help="overhead: calls per setting")
    parser.add_argument("--users", type=int, default=None, help="throughput: concurrent users")
    parser.add_argument("--duration", type=float, default=None, help="throughput: seconds of load")
    parser.add_argument("--faults-duration", type=float, default=None, help="faults: seconds")
    parser.add_argument(
        "--confirm-actions", type=int, default=None, help="confirm: actions followed to the end"
    )
    parser.add_argument(
        "--bulk-notes", type=int, default=None, help="bulk: notes signed in one run"
    )
    parser.add_argument(
        "--confirm-workers",
        type=int,
        default=_env_int("BENCH_CONFIRM_WORKERS", 1),
        help="db_worker processes confirming actions beside the portal",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server for the bench databases (dropped and re-created)",
    )
    return parser


def parse(argv: list[str] | None = None) -> Settings:
    """Build the settings from BENCH_* environment variables and the command line."""
    parser = _parser()
    args = parser.parse_args(argv)
    names = [n.strip().replace("-", "_") for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    settings = Settings(
        scenarios=names,
        quick=args.quick,
        portal_workers=args.workers,
        portal_threads=args.threads,
        confirm_workers=max(1, args.confirm_workers),
        postgres_url=args.postgres.rstrip("/"),
    )
    if args.quick:
        for key, value in QUICK.items():
            setattr(settings, key, value)
    settings.overhead_iterations = args.iterations or _env_int(
        "BENCH_OVERHEAD_ITERATIONS", settings.overhead_iterations
    )
    settings.throughput_users = args.users or _env_int(
        "BENCH_THROUGHPUT_USERS", settings.throughput_users
    )
    settings.throughput_seconds = args.duration or _env_float(
        "BENCH_THROUGHPUT_SECONDS", settings.throughput_seconds
    )
    settings.faults_seconds = args.faults_duration or _env_float(
        "BENCH_FAULTS_SECONDS", settings.faults_seconds
    )
    settings.confirm_actions = args.confirm_actions or _env_int(
        "BENCH_CONFIRM_ACTIONS", settings.confirm_actions
    )
    settings.bulk_notes = args.bulk_notes or _env_int("BENCH_BULK_NOTES", settings.bulk_notes)
    settings.bulk_poll_ms = _env_int("BENCH_BULK_POLL_MS", settings.bulk_poll_ms)
    settings.neighbour_notes = _env_int("BENCH_NEIGHBOUR_NOTES", settings.neighbour_notes)
    settings.neighbour_actions = _env_int("BENCH_NEIGHBOUR_ACTIONS", settings.neighbour_actions)
    return settings
