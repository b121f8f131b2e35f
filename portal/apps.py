from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project's own app: base templates, home page, health check, demo data."""

    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import checks, signals  # noqa: F401 - registers checks, receivers
