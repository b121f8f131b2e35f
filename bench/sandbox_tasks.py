"""Set-up steps that run inside the bench's own sandbox (its settings, its database).

`python -m bench.sandbox_tasks staff` reads a JSON list of usernames on stdin
and makes each a sandbox provider (a Django user plus a Staff row), so every
bench user links to a Canvas identity of its own, as in a real clinic.
Only ever pointed at the throwaway database of a bench run.
"""

from __future__ import annotations

import json
import os
import sys


def staff_create(*, usernames: list[str]) -> dict[str, int]:
    """Create missing provider staff members; return how many were added."""
    import secrets

    from django.contrib.auth import get_user_model

    from canvas_sandbox.clinic.models import Staff

    users = get_user_model().objects
    added = 0
    for index, username in enumerate(usernames, start=1):
        user = users.filter(username=username).first()
        if user is None:
            user = users.create_user(username=username, password=secrets.token_urlsafe(16))
        _, created = Staff.objects.get_or_create(
            user=user,
            defaults={
                "key": secrets.token_hex(16),
                "prefix": "Dr.",
                "first_name": "Bench",
                "last_name": f"Provider {index:02d}",
                "role": Staff.ROLE_PROVIDER,
            },
        )
        added += created
    return {"added": added}


def main() -> None:
    """Run one task named on the command line with JSON from stdin."""
    import canvas_sandbox  # noqa: F401 - puts the plugin package on the path

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "canvas_sandbox.settings")
    import django

    django.setup()
    task = sys.argv[1]
    data = json.loads(sys.stdin.read() or "{}")
    if task == "staff":
        result = staff_create(usernames=data["usernames"])
    else:
        raise SystemExit(f"unknown task {task}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
