"""Map the stored old words to the new ones: `revoked` -> `disconnected`, link -> connect."""

from django.db import migrations

# Old value -> new value. Literals on purpose: a migration keeps the words of its day.
STATUSES = {"revoked": "disconnected"}
KINDS = {"link": "connect", "link_failed": "connect_failed", "unlink": "disconnect"}


def _rename(apps, *, reverse: bool) -> None:
    connection = apps.get_model("canvas_oauth", "CanvasConnection")
    event = apps.get_model("canvas_oauth", "ConnectionEvent")
    statuses = {new: old for old, new in STATUSES.items()} if reverse else STATUSES
    kinds = {new: old for old, new in KINDS.items()} if reverse else KINDS
    # The historical manager is a plain one: the append-only guard is not in it.
    for old, new in statuses.items():
        connection.objects.filter(status=old).update(status=new)
    for old, new in kinds.items():
        event.objects.filter(kind=old).update(kind=new)


def forwards(apps, schema_editor) -> None:
    _rename(apps, reverse=False)


def backwards(apps, schema_editor) -> None:
    _rename(apps, reverse=True)


class Migration(migrations.Migration):
    dependencies = [
        ("canvas_oauth", "0003_connect_vocabulary"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
