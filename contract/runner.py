"""Run the phases in order against one Target and collect a Report."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from contract.config import Target
from contract.context import Run
from contract.http import Client
from contract.notes import NOTE_CASES
from contract.oauth import OAUTH_CASES
from contract.reads import READ_CASES
from contract.report import Case, Report, failed
from contract.writes import write_phase


def _guarded(run: Run, case: Callable[[Run], Case]) -> Case:
    """Run one case; a crash is that case's failure, not the run's."""
    try:
        return case(run)
    except Exception as error:  # a broken answer shape must not stop the other cases
        name = case.__name__.removeprefix("case_")
        return failed(name, f"the case crashed: {type(error).__name__}")


def contract_run(*, target: Target) -> Report:
    """Run the read phase, the OAuth checks and, when asked, the write phase."""
    report = Report(
        target={
            "kind": target.kind.value,
            "base_url": target.base_url,
            "plugin_name": target.plugin_name,
            "write": target.write,
            "second_token": bool(target.token_2),
        },
        secrets=target.secrets,
    )
    client = Client(base_url=target.base_url, plugin_name=target.plugin_name)
    run = Run(client=client, target=target)
    try:
        cases: Iterable[Callable[[Run], Case]] = (*READ_CASES, *NOTE_CASES, *OAUTH_CASES)
        for case in cases:
            report.add(_guarded(run, case))
        if target.write and run.staff_id:
            for case in write_phase(run):
                report.add(case)
    finally:
        client.close()
    return report
