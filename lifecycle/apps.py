from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Breeder lifecycle and signals"

    def ready(self) -> None:
        # Celery's autodiscovery imports only `tasks` modules and Django's only `admin`
        # modules, so the billing, ticket and import modules are registered here.
        from lifecycle import (  # noqa: F401
            admin_billing,
            admin_imports,
            admin_tickets,
            billing_signals,
            billing_tasks,
        )
