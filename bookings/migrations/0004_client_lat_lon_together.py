from django.db import migrations, models


def forget_half_positions(apps, schema_editor):
    """Rows stored before the rule: half a position is no position (both become null)."""
    Client = apps.get_model("bookings", "Client")
    half = models.Q(lat__isnull=True, lon__isnull=False) | models.Q(
        lat__isnull=False, lon__isnull=True
    )
    Client.objects.filter(half).update(lat=None, lon=None)


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0003_constraint_messages"),
    ]

    operations = [
        migrations.RunPython(forget_half_positions, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="client",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("lat__isnull", True), ("lon__isnull", True)),
                    models.Q(("lat__isnull", False), ("lon__isnull", False)),
                    _connector="OR",
                ),
                name="client_lat_lon_together",
                violation_error_message="Give both the latitude and the longitude, or neither.",
            ),
        ),
    ]
