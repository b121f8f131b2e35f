"""The default groups and the note permissions each one holds."""

from __future__ import annotations

from notes.actions import ACTIONS

#: Group name: the permission codenames (on notes.NoteActionAttempt) it holds.
DEFAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "Providers": tuple(spec.permission for spec in ACTIONS.values()),
    "Front desk": tuple(spec.permission for spec in ACTIONS.values() if spec.front_desk),
}


def groups_ensure(*, group_model, permission_model) -> None:
    """Create the default groups if missing and give each its note permissions.

    Takes the models as arguments so the data migration can pass its
    historical ones. Adds permissions; never removes any an admin granted.
    """
    for name, codenames in DEFAULT_GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        permissions = permission_model.objects.filter(
            content_type__app_label="notes", codename__in=codenames
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise LookupError(f"notes permissions missing: {sorted(missing)}")
        group.permissions.add(*permissions)
