"""Admin page listing the workspace's support tickets (read-only: the help desk owns them)."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin_site import ReadOnlyWorkspaceAdmin
from lifecycle.models.tickets import Ticket


@admin.register(Ticket)
class TicketAdmin(ReadOnlyWorkspaceAdmin):
    list_display = [
        "external_id",
        "breeder",
        "subject",
        "category",
        "priority",
        "status",
        "satisfaction_rating",
        "escalated_to",
        "opened_at",
    ]
    list_filter = ["category", "priority", "status", "escalation_level", "source"]
    search_fields = ["external_id", "subject", "breeder__name", "breeder__business_name"]
    list_select_related = ["breeder"]
    date_hierarchy = "opened_at"
