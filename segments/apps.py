from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Tiers, portfolios and playbooks"

    def ready(self) -> None:
        # Signal receivers connect on import.
        from segments import signals  # noqa: F401
