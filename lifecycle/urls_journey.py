from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/timeline/",
        views.timeline_panel,
        name="timeline",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/timeline/log/",
        views.log_activity,
        name="log_activity",
    ),
]
