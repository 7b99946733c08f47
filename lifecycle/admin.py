# Django's autodiscovery imports this module; each admin module registers its classes.
from lifecycle import (  # noqa: F401
    admin_billing,
    admin_imports,
    admin_journey,
    admin_tickets,
)
