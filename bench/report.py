"""Print the table (rows from bench.report_rows), write latest.json and scenario 1's plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.report_rows import rows as table_rows


def table(results: dict[str, Any]) -> str:
    """Return the results as a fixed-width text table."""
    rows = [("scenario", "figure", "value", "goal"), *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    widths[2] = min(widths[2], 60)
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot(overhead: dict[str, Any], path: Path) -> bool:
    """Draw scenario 1's latency distributions, portal beside direct; return whether drawn."""
    samples = overhead.get("samples_ms") or {}
    if not samples:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(samples)
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        series = samples[key]
        labels = [("direct", "direct: 1 POST"), ("portal", "portal")]
        data = [series[name] for name, _ in labels]
        parts = ax.violinplot(
            data, showmedians=True, showextrema=False, quantiles=[[0.99]] * len(data)
        )
        for body, colour in zip(parts["bodies"], ["#4c78a8", "#f58518"], strict=True):
            body.set_facecolor(colour)
            body.set_alpha(0.6)
        for i, values in enumerate(data, start=1):
            ax.scatter([i + 0.25] * len(values), values, s=3, alpha=0.3, color="grey")
        ax.set_xticks(range(1, len(labels) + 1), [label for _, label in labels])
        p50, p99 = overhead.get(f"p50_ratio_{key}"), overhead.get(f"p99_ratio_{key}")
        ratios = f"portal / direct (1 POST): p50 x{p50}, p99 x{p99}"
        ax.set_title(f"sandbox latency {key}\n{ratios}", fontsize=10)
        ax.set_ylabel("latency of one lock/unlock (ms)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"Scenario 1 - overhead: {overhead.get('iterations')} interleaved calls per arm "
        "(median line, p99 tick)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict[str, Any], meta: dict[str, Any], directory: Path) -> None:
    """Print the table and write latest.json (+ overhead.png) under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    plot_path = directory / "overhead.png"
    drawn = False
    if "overhead" in results and "samples_ms" in results["overhead"]:
        try:
            drawn = plot(results["overhead"], plot_path)
        except Exception as exc:  # the figures matter more than the picture
            print(f"warning: plot failed: {exc}")
    payload = {**results, "meta": {**meta, "plot": str(plot_path) if drawn else None}}
    out = directory / "latest.json"
    out.write_text(json.dumps(payload, indent=2, default=str))
    print()
    print(table(results))
    print()
    print(f"wrote {out}" + (f" and {plot_path}" if drawn else ""))
    print(
        f"database {meta.get('database')}, {meta.get('cpus')} CPUs, "
        f"load {meta.get('load_average')}, {meta.get('elapsed_s')} s"
    )
