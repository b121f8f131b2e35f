"""Refresh Canvas connections whose access token expires soon (run it from cron)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from canvas_oauth.operations import connections_refresh_due


class Command(BaseCommand):
    help = (
        "Refresh every active Canvas connection whose access token expires within --within "
        "minutes (default 60). Exit status 1 if any refresh failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--within", type=int, default=60, help="minutes (default 60)")

    def handle(self, *args, **options):
        counts = connections_refresh_due(within=timedelta(minutes=options["within"]))
        line = f"refreshed {counts['refreshed']}, failed {counts['failed']}"
        if counts["failed"]:
            raise CommandError(line)
        self.stdout.write(line)
