from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Breeder lifecycle and signals"

    def ready(self) -> None:
        # Connects the receivers that keep the write-key cache current.
        from lifecycle import signals  # noqa: F401
