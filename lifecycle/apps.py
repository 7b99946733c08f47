from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Breeder lifecycle and signals"

    def ready(self) -> None:
        # Signal receivers connect on import. Celery's autodiscovery imports only the
        # `tasks` module, so the billing and journey tasks are imported here too.
        from lifecycle import (  # noqa: F401
            billing_signals,
            billing_tasks,
            journey_signals,
            journey_tasks,
            signals,
        )
