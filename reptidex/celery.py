import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reptidex.settings")

app = Celery("reptidex")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    from reptidex.schedule import BEAT_SCHEDULE

    sender.conf.beat_schedule = BEAT_SCHEDULE
