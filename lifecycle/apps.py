from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Breeder lifecycle and signals"

    def ready(self) -> None:
        from lifecycle import signals  # noqa: F401  (connects the receivers)
