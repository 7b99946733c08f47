from django.urls import path

from lifecycle import views_webhooks

app_name = "webhooks"

urlpatterns = [
    path(
        "webhooks/stripe/<uuid:workspace_public_id>/",
        views_webhooks.stripe_webhook,
        name="stripe",
    ),
    path("webhooks/tickets/", views_webhooks.ticket_webhook, name="tickets"),
]
