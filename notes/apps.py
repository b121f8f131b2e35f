from django.apps import AppConfig


class NotesConfig(AppConfig):
    """Canvas notes: the worklist, the actions on them and their audit log."""

    name = "notes"
    verbose_name = "Notes"
