from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Breeder lifecycle and signals"

    def ready(self) -> None:
        # Celery's autodiscovery imports only `tasks` modules, so the billing tasks and
        # the signal receivers are registered here.
        from lifecycle import billing_signals, billing_tasks, signals  # noqa: F401
