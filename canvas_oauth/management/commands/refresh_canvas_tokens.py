"""Refresh Canvas links whose access token expires soon (run it from cron)."""

import sys
from datetime import timedelta

from django.core.management.base import BaseCommand

from canvas_oauth.services import connections_refresh_due


class Command(BaseCommand):
    help = (
        "Refresh every active Canvas link whose access token expires within --within "
        "minutes (default 60). Exit status 1 if any refresh failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--within", type=int, default=60, help="minutes (default 60)")

    def handle(self, *args, **options):
        counts = connections_refresh_due(within=timedelta(minutes=options["within"]))
        line = f"refreshed {counts['refreshed']}, failed {counts['failed']}"
        if counts["failed"]:
            self.stderr.write(line)
            sys.exit(1)
        self.stdout.write(line)
