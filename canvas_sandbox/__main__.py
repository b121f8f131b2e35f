"""Run a Django management command against the sandbox: `python -m canvas_sandbox <command>`."""

import os
import sys


def main() -> None:
    """Point Django at the sandbox's settings and run the command line."""
    # Always the sandbox's settings, even in a shell (or pytest) set up for the portal.
    os.environ["DJANGO_SETTINGS_MODULE"] = "canvas_sandbox.settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line([f"{sys.executable} -m canvas_sandbox", *sys.argv[1:]])


if __name__ == "__main__":
    main()
