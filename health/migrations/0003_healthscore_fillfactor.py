from django.db import migrations


class Migration(migrations.Migration):
    """Leave a third of each page of health scores free for the daily rewrite.

    The daily recompute updates every score row. With room on the same page,
    PostgreSQL can store the new row version there without new index entries (a HOT
    update), which roughly halved the time of 100,000 updates (docs/benchmarks.md).
    """

    dependencies = [
        ("health", "0002_alter_healthscore_breeder"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE health_healthscore SET (fillfactor = 70)",
            reverse_sql="ALTER TABLE health_healthscore RESET (fillfactor)",
        ),
    ]
