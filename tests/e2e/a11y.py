"""axe-core on every page state the browser tests see.

The axe-core script comes from the `axe-playwright-python` package (a dev
dependency: it bundles axe.min.js). It goes into the page with
`page.evaluate(script)`: Playwright runs that through the DevTools protocol
in the page's main world, where the portal's Content-Security-Policy does
not apply. (`page.add_script_tag(content=...)` adds an inline <script>,
which the CSP blocks and reports: the suite would fail on axe itself.)

`AxeAudit.check(page, step)` runs axe on the page as it is now and returns
the serious and critical violations it has not reported before on that URL,
one problem per rule: impact, rule, URL, step and axe's help link, then a
line per element with its selector and what is wrong. An init script marks the document dirty on any
DOM change, so a page nothing happened to since its last check is not
audited again.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

#: Violations of these impacts fail the test; the others are only reported.
FAILING_IMPACTS = frozenset({"serious", "critical"})
#: axe's default rule set (WCAG 2.x A/AA and best practices); violations only.
AXE_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}
#: A document starts dirty; any DOM change after a check makes it dirty again,
#: except the inline style a screenshot puts on text fields (Playwright hides
#: their caret) and takes off again.
DIRTY_TRACKER = """
(() => {
  const caret = (r) => r.attributeName === 'style' && /^(INPUT|TEXTAREA)$/.test(r.target.nodeName);
  const dirty = (records) => {
    if (!records.every(caret)) window.__a11yClean = false;
  };
  const observe = () => new MutationObserver(dirty).observe(document.documentElement, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
  if (document.documentElement) observe();
  else document.addEventListener('DOMContentLoaded', observe);
})();
"""
#: axe "preloads" the CSSOM for its css-orientation-lock rule: it copies the page's
#: stylesheets into a scratch document, where an `@import` (Django's admin CSS
#: has some) or a cross-origin sheet becomes an inline <style> that the page's
#: CSP blocks and reports. On such pages axe runs without preloading (and so
#: without that one rule); the portal's own pages have neither.
#: Finite animations (a toast fading in) are let finish first: axe measures
#: colours as painted, and a half-faded toast is not what a person reads.
_RUN = """async (options) => {
  const finite = document.getAnimations().filter(
    (a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity);
  await Promise.all(finite.map((a) => a.finished.catch(() => null)));
  const risky = Array.from(document.styleSheets).some((sheet) => {
    try {
      return Array.from(sheet.cssRules).some((rule) => rule instanceof CSSImportRule);
    } catch (error) {
      return true;  // cross-origin: axe would fetch it and inline it
    }
  });
  window.__a11yClean = true;
  const results = await window.axe.run(document, { ...options, preload: !risky });
  return results.violations;
}"""
_NAVIGATED = ("Execution context was destroyed", "navigation")
_MAX_DETAILS = 6


class AxeAudit:
    """Run axe-core in pages; remember what was reported, per URL."""

    #: Every audit in this test run, by every instance, for the report file.
    audited: list[dict[str, Any]] = []

    def __init__(self) -> None:
        self.script = Axe().axe_script
        self.reported: set[tuple[str, str, str]] = set()  # (url, rule id, target)

    def check(self, page, step: str, *, failing: bool = True) -> list[str]:
        """Audit `page` unless unchanged since its last audit; return new failures.

        With `failing` false the audit only goes into the report file.
        """
        for _attempt in range(3):
            if page.is_closed():
                return []
            started = time.monotonic()
            try:
                if page.evaluate("window.__a11yClean === true"):
                    return []
                url = page.url
                if not page.evaluate("typeof window.axe === 'object'"):
                    page.evaluate(self.script)
                violations = page.evaluate(_RUN, AXE_OPTIONS)
            except Exception as exc:
                if page.is_closed():
                    return []
                if any(text in str(exc) for text in _NAVIGATED):
                    # The page moved on while axe ran: audit where it landed.
                    # (The class's method: the Browser wraps the instance's.)
                    with contextlib.suppress(Exception):
                        type(page).wait_for_load_state(page)
                    continue
                return [f"axe could not run on {page.url} ({step}): {exc}"]
            if url != page.url:  # a navigation finished between the calls
                continue
            seconds = round(time.monotonic() - started, 3)
            return self._record(url, step, violations, failing=failing, seconds=seconds)
        # Still navigating after three tries: say so in the report, fail nothing.
        self.audited.append({"url": page.url, "step": step, "skipped": "kept navigating"})
        return []

    def _record(
        self,
        url: str,
        step: str,
        violations: list[dict[str, Any]],
        *,
        failing: bool,
        seconds: float,
    ) -> list[str]:
        self.audited.append(
            {
                "url": url,
                "step": step,
                "failing": failing,
                "seconds": seconds,
                "violations": [
                    {
                        "id": v["id"],
                        "impact": v["impact"],
                        "targets": [_target(node) for node in v["nodes"]],
                    }
                    for v in violations
                ],
            }
        )
        problems: list[str] = []
        for violation in violations:
            if not failing or violation["impact"] not in FAILING_IMPACTS:
                continue
            new_nodes = []
            for node in violation["nodes"]:
                key = (url, violation["id"], _target(node))
                if key not in self.reported:
                    self.reported.add(key)
                    new_nodes.append(node)
            if new_nodes:
                problems.append(_describe(violation, new_nodes, url, step))
        return problems

    def write_report(self, path: Path) -> None:
        """Save every audit of this run so far (all impacts, minor and moderate too) as JSON."""
        path.write_text(json.dumps(self.audited, indent=1))


def _target(node: dict[str, Any]) -> str:
    # A target is a list of selectors, one per frame or shadow root on the way.
    return " >> ".join(
        " ".join(part) if isinstance(part, list) else str(part) for part in node["target"]
    )


def _describe(violation: dict[str, Any], nodes: list[dict[str, Any]], url: str, step: str) -> str:
    lines = [
        f"axe {violation['impact']} {violation['id']} on {url} ({step}): "
        f"{violation['help']} ({violation['helpUrl']})"
    ]
    for node in nodes[:_MAX_DETAILS]:
        summary = " ".join((node.get("failureSummary") or "").split())
        lines.append(f"    {_target(node)}: {summary}")
    if len(nodes) > _MAX_DETAILS:
        lines.append(f"    ... and {len(nodes) - _MAX_DETAILS} more elements")
    return "\n".join(lines)
