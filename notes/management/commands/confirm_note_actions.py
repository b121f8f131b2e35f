"""Confirm note actions still in flight past their deadline (run it from cron every few minutes)."""

from django.core.management.base import BaseCommand

from notes.bulk.runs import runs_resume
from notes.confirmation import attempts_confirm_overdue
from notes.late import attempts_find_late


class Command(BaseCommand):
    help = (
        "Read Canvas once more for every note action still accepted (or unknown) past "
        "NOTES_CONFIRM_SECONDS, as when the worker confirming it died, and record its final "
        "outcome: confirmed, not applied, or unknown when Canvas cannot be read. Requests "
        "that died after sending (pending past their window) become unknown and are read "
        "too. Bulk runs whose worker stopped are resumed: started items are linked to their "
        "audit row (never sent again), the rest run. Actions recorded not applied in the last "
        "day that Canvas now shows become applied late."
    )

    def handle(self, *args, **options):
        counts = attempts_confirm_overdue()
        total = sum(counts.values())
        detail = ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items()))
        self.stdout.write(f"final {total}" + (f": {detail}" if detail else ""))
        late = attempts_find_late()
        if late:
            self.stdout.write(f"applied late {late}")
        resumed = runs_resume()
        if resumed:
            self.stdout.write(f"resumed {resumed} bulk run(s)")
