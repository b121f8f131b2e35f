"""A run's outcome: cases (passed, failed, not observable) as JSON, Markdown and terminal lines.

Cases hold ids, codes, states, counts and timings only; every text is
checked against the run's tokens before it is written or printed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO


class Status(StrEnum):
    """A case's outcome."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_OBSERVABLE = "not_observable"


@dataclass
class Case:
    """One observation: what was seen and, for a difference, the setting to change."""

    name: str
    status: Status
    seen: str
    change: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def passed(name: str, seen: str, **data: Any) -> Case:
    """A case that matched what the portal assumes."""
    return Case(name, Status.PASSED, seen, data=data)


def failed(name: str, seen: str, change: str = "", **data: Any) -> Case:
    """A case that differs from what the portal assumes; `change` says which setting to change."""
    return Case(name, Status.FAILED, seen, change, data=data)


def unobservable(name: str, seen: str, **data: Any) -> Case:
    """A case this instance (or this run's credentials) cannot show."""
    return Case(name, Status.NOT_OBSERVABLE, seen, data=data)


class LeakError(RuntimeError):
    """A token reached text meant for the report or the terminal (a bug in a case)."""


@dataclass
class Report:
    """Every case of one run and where it ran."""

    target: dict[str, Any]
    cases: list[Case] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def add(self, case: Case) -> Case:
        """Record a case and return it."""
        self.cases.append(case)
        return case

    @property
    def ok(self) -> bool:
        """Whether no case failed."""
        return all(case.status != Status.FAILED for case in self.cases)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON result."""
        counts = {status.value: 0 for status in Status}
        for case in self.cases:
            counts[case.status.value] += 1
        return {
            "started_at": self.started_at,
            "target": self.target,
            "counts": counts,
            "cases": [asdict(case) for case in self.cases],
        }

    def markdown(self) -> str:
        """Return the short Markdown report."""
        lines = [
            f"# Contract run {self.started_at}",
            "",
            f"Target: {self.target.get('kind')} {self.target.get('base_url')}, "
            f"plugin `{self.target.get('plugin_name')}`, write phase: "
            f"{'yes' if self.target.get('write') else 'no'}.",
            "",
            "| case | result | seen | what to change |",
            "|------|--------|------|----------------|",
        ]
        for case in self.cases:
            seen = case.seen.replace("|", "/")
            change = case.change.replace("|", "/")
            lines.append(f"| `{case.name}` | {case.status.value} | {seen} | {change} |")
        return self._checked("\n".join(lines) + "\n")

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write <timestamp>.json and <timestamp>.md under `directory`; return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        stamp = self.started_at.replace(":", "").replace("+0000", "Z").split(".")[0]
        json_path = directory / f"{stamp}.json"
        md_path = directory / f"{stamp}.md"
        json_path.write_text(self._checked(json.dumps(self.as_dict(), indent=2) + "\n"))
        md_path.write_text(self.markdown())
        return json_path, md_path

    def print_summary(self, stream: TextIO) -> None:
        """Print one line per case, then the totals."""
        for case in self.cases:
            line = f"{case.status.value:>14}  {case.name}: {case.seen}"
            if case.change:
                line += f"\n{'':>16}change: {case.change}"
            print(self._checked(line), file=stream)
        counts = self.as_dict()["counts"]
        print(
            f"contract: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['not_observable']} not observable",
            file=stream,
        )

    def _checked(self, text: str) -> str:
        for secret in self.secrets:
            if secret and secret in text:
                raise LeakError("A token reached the report; nothing was written.")
        return text
