"""Say connect/disconnect: rename `linked_at`, the statuses and the event kinds (schema)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("canvas_oauth", "0002_connection_event_kinds"),
    ]

    operations = [
        # The constraints name the old status; 0005 puts them back with the new one.
        migrations.RemoveConstraint(
            model_name="canvasconnection", name="canvas_oauth_one_user_per_canvas_user"
        ),
        migrations.RemoveConstraint(
            model_name="canvasconnection", name="canvas_oauth_one_user_per_canvas_staff"
        ),
        migrations.RemoveConstraint(model_name="canvasconnection", name="canvas_oauth_status_valid"),
        migrations.RenameField(
            model_name="canvasconnection", old_name="linked_at", new_name="connected_at"
        ),
        migrations.AlterField(
            model_name="canvasconnection",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("reconnect_needed", "Reconnect needed"),
                    ("disconnected", "Disconnected"),
                ],
                default="active",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="connectionevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("connect", "Connected"),
                    ("connect_failed", "Connect failed"),
                    ("refresh", "Token refreshed"),
                    ("refresh_failed", "Refresh failed"),
                    ("disconnect", "Disconnected"),
                    ("token_revoked_at_canvas", "Token revoked at Canvas"),
                    ("revocation_not_confirmed", "Revocation not confirmed"),
                    ("reconnect_required", "Reconnect required"),
                    ("key_rotation", "Tokens re-encrypted"),
                ],
                max_length=30,
            ),
        ),
    ]
