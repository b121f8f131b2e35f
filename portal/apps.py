from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project's own app: base templates, home page, health check, demo data."""

    name = "portal"
    verbose_name = "Portal"
