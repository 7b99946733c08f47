from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = "Success programs and email"

    def ready(self) -> None:
        from programs import signals  # noqa: F401
