"""Deprecated alias of `confirm_note_actions` (kept so existing crontabs keep working)."""

from notes.management.commands.confirm_note_actions import Command  # noqa: F401
