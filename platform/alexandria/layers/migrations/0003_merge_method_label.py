from django.db import migrations, models


class Migration(migrations.Migration):
    """Direct merges now need texts equal after normalisation (issue 20): the label says so."""

    dependencies = [
        ("search", "0002_layer_stop_criteria"),
    ]

    operations = [
        migrations.AlterField(
            model_name="mergerecord",
            name="method",
            field=models.CharField(
                choices=[
                    ("guard", "texts equal after normalisation"),
                    ("llm", "verified by a verify_merge job"),
                ],
                max_length=8,
            ),
        ),
    ]
