from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = "Tiers, portfolios and playbooks"
