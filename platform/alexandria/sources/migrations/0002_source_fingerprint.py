import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SourceFingerprint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "hashes",
                    models.BinaryField(
                        help_text=(
                            "Sorted distinct shingle hashes, unsigned 64-bit little-endian "
                            "integers."
                        )
                    ),
                ),
                ("shingle_words", models.PositiveSmallIntegerField()),
                ("word_count", models.PositiveIntegerField()),
                ("key_id", models.CharField(max_length=16)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "source",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="fingerprint",
                        to="sources.source",
                    ),
                ),
            ],
        ),
    ]
