"""In-process measurements of the portal's views: time and SQL queries, never their values.

Run inside the portal (bench.portal_tasks) with Django's test client, counting
queries with CaptureQueriesContext.
"""

from __future__ import annotations

import re
import time
from typing import Any

_SQL_TABLE = re.compile(r'\b(FROM|INTO|UPDATE)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)
_NOTE_LINK = re.compile(r"/notes/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/")


def _query_shapes(captured: list[dict[str, str]]) -> list[str]:
    """Return "<VERB> <table>" per query: what was asked, never the values in it."""
    shapes = []
    for query in captured:
        sql = query["sql"].lstrip()
        verb = sql.split(None, 1)[0].upper() if sql else "?"
        match = _SQL_TABLE.search(sql)
        shapes.append(f"{verb} {match.group(2)}" if match else verb)
    return shapes


def _client(username: str):
    """Return a test client signed in as `username`."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.get(username=username)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def worklist(*, username: str, sizes: list[int], renders: int) -> dict[str, Any]:
    """Render /notes/ in-process for each page size; time it and count its SQL queries."""
    from django.test.utils import override_settings

    client = _client(username)
    out: dict[str, Any] = {}
    for size in sizes:
        with override_settings(NOTES_PAGE_SIZE=size):
            out[str(size)] = _worklist_renders(client, renders)
    return out


def _worklist_renders(client, renders: int) -> dict[str, Any]:
    """Render /notes/ `renders` times after two warm-up renders; return what was measured."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from bench.stats import summarize

    timings: list[float] = []
    queries: list[int] = []
    statuses: set[int] = set()
    shown = 0
    shapes: list[str] = []
    for index in range(renders + 2):  # two warm-up renders, not counted
        with CaptureQueriesContext(db) as captured:
            started = time.perf_counter()
            response = client.get("/notes/")
            elapsed = (time.perf_counter() - started) * 1000
        statuses.add(response.status_code)
        if index < 2:
            continue
        timings.append(elapsed)
        queries.append(len(captured.captured_queries))
        shapes = _query_shapes(captured.captured_queries)
        shown = len(set(_NOTE_LINK.findall(response.content.decode())))
    return {
        "render_ms": summarize(timings),
        "queries": sorted(set(queries)),
        "query_shapes": shapes,
        "notes_shown": shown,
        "statuses": sorted(statuses),
    }


def action_profile(*, username: str, note_id: str, first: str, count: int) -> dict[str, Any]:
    """Run the action view in-process: SQL queries, time in Canvas calls and own time."""
    from bench.stats import summarize
    from integrations.canvas import plugin as canvas_plugin

    upstream: list[float] = []
    original = canvas_plugin.PluginClient._request

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            upstream.append((time.perf_counter() - started) * 1000)

    canvas_plugin.PluginClient._request = timed
    try:
        seen = _actions(_client(username), note_id, first=first, count=count, upstream=upstream)
    finally:
        canvas_plugin.PluginClient._request = original
    own = [t - u for t, u in zip(seen["totals"], seen["upstreams"], strict=True)]
    return {
        "n": len(seen["totals"]),
        "queries_per_action": sorted(set(seen["queries"])),
        "queries": seen["shapes"],
        "canvas_calls_per_action": sorted(set(seen["calls"])),
        "in_process_ms": summarize(seen["totals"]),
        "canvas_calls_ms": summarize(seen["upstreams"]),
        "portal_own_ms": summarize(own),
    }


def _actions(
    client, note_id: str, *, first: str, count: int, upstream: list[float]
) -> dict[str, list]:
    """Post `count` accepted actions (after three warm-ups), toggling; return what each cost.

    `upstream` collects the ms of each Canvas call the current action makes.
    """
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    action, other = first, {"lock": "unlock", "unlock": "lock"}[first]
    seen: dict[str, list] = {"totals": [], "upstreams": [], "queries": [], "calls": []}
    seen["shapes"] = []
    for index in range(count + 3):
        upstream.clear()
        with CaptureQueriesContext(db) as captured:
            started = time.perf_counter()
            response = client.post(
                f"/notes/{note_id}/{action}/",
                {"view": "row", "next": "/notes/"},
                HTTP_HX_REQUEST="true",
            )
            total = (time.perf_counter() - started) * 1000
        # Accepted: the "in flight" fragment (a refusal answers with a toast).
        ok = response.status_code == 200 and b'class="in-flight"' in response.content
        action, other = (other, action) if ok else (action, other)
        if index < 3 or not ok:
            continue
        seen["totals"].append(total)
        seen["upstreams"].append(sum(upstream))
        seen["calls"].append(len(upstream))
        seen["queries"].append(len(captured.captured_queries))
        seen["shapes"] = _query_shapes(captured.captured_queries)
    return seen
