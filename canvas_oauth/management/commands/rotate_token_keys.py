"""Re-encrypt every Canvas connection's tokens under the first TOKEN_ENCRYPTION_KEYS key."""

from django.core.management.base import BaseCommand, CommandError

from canvas_oauth.operations import connections_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Canvas token under the first key of TOKEN_ENCRYPTION_KEYS "
        "(row by row, locked, so a concurrent refresh is never lost). Run it after putting "
        "a new key first; remove the old key only once it reports 0 failed."
    )

    def handle(self, *args, **options):
        counts = connections_keys_rotate()
        line = (
            f"rotated {counts['rotated']}, already current {counts['current']}, "
            f"without tokens {counts['empty']}, failed {counts['failed']}"
        )
        if counts["failed"]:
            raise CommandError(
                line + " — some rows could not be decrypted with any key; keep the old keys "
                "until they are fixed."
            )
        self.stdout.write(line)
