from lifecycle import admin_journey  # noqa: F401  (registers the journey admin classes)
