"""`python -m contract`: run the cases, write the JSON and Markdown report; exit 1 on a failure."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from contract.config import ROOT, ContractConfigError, target_from_env
from contract.report import LeakError
from contract.runner import contract_run
from contract.sandbox import Sandbox, SandboxStartError


def main() -> int:
    """Run against CONTRACT_BASE_URL, or against a sandbox started (and stopped) here."""
    results = Path(os.environ.get("CONTRACT_RESULTS_DIR") or ROOT / "contract" / "results")
    sandbox: Sandbox | None = None
    try:
        target = target_from_env()
        if target is None:
            print("contract: starting a sandbox", file=sys.stderr)
            sandbox = Sandbox()
            sandbox.start()
            target = sandbox.target()
        report = contract_run(target=target)
        report.print_summary(sys.stdout)
        _json_path, md_path = report.write(results)
    except (ContractConfigError, SandboxStartError, LeakError) as error:
        print(f"contract: {error}", file=sys.stderr)
        return 2
    finally:
        if sandbox is not None:
            sandbox.stop()
    print(
        f"contract: report {md_path.relative_to(ROOT) if md_path.is_relative_to(ROOT) else md_path}"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
