from django.apps import AppConfig


class CanvasOAuthConfig(AppConfig):
    """Connect each local user to their Canvas identity and keep its tokens."""

    name = "canvas_oauth"
    verbose_name = "Canvas connections"

    def ready(self) -> None:
        from canvas_oauth import checks, signals  # noqa: F401  (registers checks, receivers)
