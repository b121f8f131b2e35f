"""`python -m canvas_sandbox seed`: write the demo clinic (idempotent)."""

from django.core.management.base import BaseCommand

from canvas_sandbox.clinic.seeding import seed_clinic


class Command(BaseCommand):
    """Create the demo staff, OAuth clients, patients and notes if missing."""

    help = "Seed the Canvas sandbox with demo staff, OAuth clients, patients and notes."

    def handle(self, *args, **options) -> None:
        """Seed and say what was added."""
        added = seed_clinic()
        self.stdout.write(
            f"Sandbox seeded: {added['staff']} staff, {added['patients']} patients, "
            f"{added['notes']} notes added; {added['commands']} commands added "
            "(staff password: canvas-demo)."
        )
