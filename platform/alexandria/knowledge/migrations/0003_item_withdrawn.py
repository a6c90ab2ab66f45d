from django.db import migrations, models


class Migration(migrations.Migration):
    """Items whose evidence was taken down are withdrawn (alexandria.retention.takedowns)."""

    dependencies = [
        ("knowledge", "0002_anchor_fragments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="knowledgeitem",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("accepted", "Accepted"),
                    ("rejected", "Rejected"),
                    ("hidden", "Hidden"),
                    ("withdrawn", "withdrawn (its evidence was taken down)"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
    ]
