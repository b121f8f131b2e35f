"""Scenario 4: one expired token and many simultaneous requests make exactly one refresh."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.http import PortalUser, Result
from bench.scenarios.common import new_note, not_run
from bench.stats import summarize

if TYPE_CHECKING:
    from bench.runner import Run


def refresh_storm(run: Run) -> dict[str, Any]:
    """One expired token, many simultaneous requests over several processes: one refresh."""
    if why := run.requires("make_connection", "access_token_get", "worklist_url"):
        return not_run(why)
    s = run.settings
    base = run.login("storm")
    clients = [base.clone() for _ in range(s.storm_requests)]
    for _ in range(3):
        new_note(run, "storm", state="LKD")
    run.control.set_faults(latency_ms=50)
    rounds = [_storm_round(run, clients) for _ in range(s.storm_rounds)]
    run.control.reset_faults()
    per_round = [r["refresh_requests"] for r in rounds]
    failed = sum(r["failed_requests"] for r in rounds)
    return {
        "portal_processes": s.portal_workers,
        "threads_per_process": s.portal_threads,
        "concurrent_requests": s.storm_requests,
        "rounds": rounds,
        "refresh_requests": max(per_round),
        "refresh_requests_per_round": per_round,
        "failed_requests": failed,
        "goals": {
            "refresh_requests == 1 (every round)": all(n == 1 for n in per_round),
            "failed_requests == 0": failed == 0,
        },
    }


def _storm_round(run: Run, clients: list[PortalUser]) -> dict[str, Any]:
    """Expire the token, send every client's worklist request at once; return the round."""
    before = run.task("connection", username="storm")
    run.task("expire", usernames=["storm"])
    run.control.reset_stats()
    log_offset = run.access_log.stat().st_size if run.access_log.exists() else 0
    for client in clients:
        client.fresh_connections()
    results = _at_once(run, clients)
    stats = run.control.stats()
    after = run.task("connection", username="storm")
    pids = _pids_serving(run.access_log, log_offset, path="/notes/")
    done = [r for r in results if r is not None]
    failed = [r for r in done if not r.ok]
    return {
        "requests": len(clients),
        "refresh_requests": stats.get("token_requests", {}).get("refresh_token", 0),
        "failed_requests": len(failed) + (len(clients) - len(done)),
        "failures": dict(Counter(f"{r.status} {r.message}"[:120] for r in failed)),
        "latency_ms": summarize(r.ms for r in done),
        "worker_pids_serving": len(pids),
        "requests_per_worker": sorted(pids.values(), reverse=True),
        "connection_status": after.get("status"),
        "refresh_count_delta": (after.get("refresh_count") or 0)
        - (before.get("refresh_count") or 0),
        "token_valid_for_s": after.get("expires_in_s"),
    }


def _at_once(run: Run, clients: list[PortalUser]) -> list[Result | None]:
    """Request /notes/ from every client at the same moment; None where no answer came."""
    results: list[Result | None] = [None] * len(clients)
    barrier = threading.Barrier(len(clients))

    def hit(index: int) -> None:
        barrier.wait(timeout=60)
        results[index] = clients[index].page("/notes/", error_texts=run.messages)

    threads = [threading.Thread(target=hit, args=(i,), daemon=True) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=run.settings.client_timeout * 2 + 60)
    return results


def _pids_serving(log: Path | None, offset: int, *, path: str) -> Counter:
    """Count the requests for `path` per gunicorn worker pid logged after `offset`."""
    if log is None or not log.exists():
        return Counter()
    time.sleep(0.5)  # gunicorn writes the access line after the response
    with log.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    pids: Counter = Counter()
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[1] == path:
            pids[parts[0]] += 1
    return pids
