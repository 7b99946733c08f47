from django.urls import path

from health import views, views_history

app_name = "health"

urlpatterns = [
    path("w/<slug:workspace_slug>/", views.portfolio, name="portfolio"),
    path("w/<slug:workspace_slug>/alerts/", views.alert_inbox, name="alerts"),
    path("w/<slug:workspace_slug>/alerts/count/", views.alert_count, name="alert_count"),
    path(
        "w/<slug:workspace_slug>/alerts/<str:public_id>/<str:action>/",
        views.alert_action,
        name="alert_action",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/health/",
        views.breeder_health,
        name="breeder_health",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/health/history/",
        views_history.score_history,
        name="score_history",
    ),
]
