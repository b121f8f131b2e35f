"""`python -m canvas_sandbox serve ADDR:PORT`: migrate, seed, then runserver (no reloader).

One Python start-up instead of three, which is what tests/live.py uses.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """Prepare the database and serve the sandbox with a threaded runserver."""

    help = "Migrate, seed and serve the Canvas sandbox (threaded, no autoreload)."

    def add_arguments(self, parser) -> None:
        """Accept the address to bind and a switch to skip seeding."""
        parser.add_argument("addrport", help="e.g. 127.0.0.1:8001")
        parser.add_argument("--no-seed", action="store_true", help="skip the demo seed")

    def handle(self, *args, addrport: str, no_seed: bool, **options) -> None:
        """Migrate, seed unless told not to, then serve until stopped."""
        call_command("migrate", interactive=False, verbosity=0)
        if not no_seed:
            call_command("seed")
        call_command("runserver", addrport, use_reloader=False, skip_checks=True)
