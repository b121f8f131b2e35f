"""Create the demo sign-ins for `make run` (idempotent)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

DEMO_PASSWORD = "canvas-demo"

# username: (first name, last name, groups, is_superuser)
DEMO_USERS = {
    "provider": ("Pat", "Provider", ["Providers"], False),
    "frontdesk": ("Frankie", "Desk", ["Front desk"], False),
    "admin": ("Ada", "Admin", [], True),
}


class Command(BaseCommand):
    help = "Create the demo users provider, frontdesk and admin (password canvas-demo)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DJANGO_DEBUG off (never on a real clinic's portal).",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo creates well-known passwords: DEBUG only (or --force).")
        user_model = get_user_model()
        for username, (first, last, groups, is_superuser) in DEMO_USERS.items():
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                },
            )
            user.is_staff = is_superuser
            user.is_superuser = is_superuser
            user.set_password(DEMO_PASSWORD)
            user.save()
            for name in groups:
                group, _ = Group.objects.get_or_create(name=name)
                user.groups.add(group)
            verb = "created" if created else "updated"
            self.stdout.write(f"{verb} {username}")
