"""Scenario 2: the worklist page's render time and SQL queries, at two page sizes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.scenarios.common import new_note, not_run

if TYPE_CHECKING:
    from bench.runner import Run


def worklist(run: Run) -> dict[str, Any]:
    """Render time and SQL queries of /notes/ with 10 and 50 notes per page."""
    if why := run.requires("make_connection", "worklist_url"):
        return not_run(why)
    s = run.settings
    for _ in range(max(s.worklist_sizes) + 10):
        new_note(run, "wl", state="LKD")  # the default tab: locked notes awaiting my signature
    run.control.set_faults(latency_ms=0)
    figures = run.task(
        "worklist", timeout=300, username="wl", sizes=s.worklist_sizes, renders=s.worklist_renders
    )
    out: dict[str, Any] = {"renders": s.worklist_renders, "sandbox_latency_ms": 0}
    for size in s.worklist_sizes:
        f = figures[str(size)]
        queries = f["queries"]
        out[f"queries_{size}"] = queries[0] if len(queries) == 1 else queries
        out[f"render_ms_{size}"] = f["render_ms"]
        out[f"notes_shown_{size}"] = f["notes_shown"]
        out[f"statuses_{size}"] = f["statuses"]
        out[f"query_shapes_{size}"] = f["query_shapes"]
    q10, q50 = out.get("queries_10"), out.get("queries_50")
    out["goals"] = {"queries_10 == queries_50": None if q10 is None else q10 == q50}
    return out
