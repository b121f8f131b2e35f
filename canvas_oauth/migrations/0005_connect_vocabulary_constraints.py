"""Put back the constraints of 0001 with the `disconnected` status."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("canvas_oauth", "0004_connect_vocabulary_data"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="canvasconnection",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "disconnected"), _negated=True),
                fields=("canvas_user_id",),
                name="canvas_oauth_one_user_per_canvas_user",
                violation_error_message="This Canvas user is already connected to another account.",
            ),
        ),
        migrations.AddConstraint(
            model_name="canvasconnection",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "disconnected"), _negated=True),
                fields=("canvas_staff_id",),
                name="canvas_oauth_one_user_per_canvas_staff",
                violation_error_message="This Canvas staff is already connected to another account.",
            ),
        ),
        migrations.AddConstraint(
            model_name="canvasconnection",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["active", "reconnect_needed", "disconnected"])
                ),
                name="canvas_oauth_status_valid",
            ),
        ),
    ]
