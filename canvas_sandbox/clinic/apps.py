"""The sandbox's clinic: staff, patients, notes and the plugin API over them."""

from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """Configure the clinic app of the Canvas sandbox."""

    name = "canvas_sandbox.clinic"
    label = "clinic"
    verbose_name = "Canvas sandbox clinic"
