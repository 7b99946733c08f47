from django.urls import path

from lifecycle import views as journey_views
from lifecycle import views_tasks
from lifecycle.ingestion import views

app_name = "lifecycle"

# The paths of the Segment HTTP tracking API, without trailing slashes as Segment's
# libraries send them.
urlpatterns = [
    path("v1/batch", views.batch, name="ingest_batch"),
    path("v1/track", views.track, name="ingest_track"),
    path("v1/identify", views.identify, name="ingest_identify"),
    path("v1/group", views.group, name="ingest_group"),
    path("v1/page", views.page, name="ingest_page"),
    path("v1/openapi.json", views.openapi, name="openapi"),
    # The breeder journey panel and activity logging.
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/timeline/",
        journey_views.timeline_panel,
        name="timeline",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/timeline/log/",
        journey_views.log_activity,
        name="log_activity",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/subscription/",
        journey_views.subscription_panel,
        name="subscription",
    ),
    path("w/<slug:workspace_slug>/tasks/", views_tasks.my_tasks, name="tasks"),
    path(
        "w/<slug:workspace_slug>/tasks/<str:public_id>/complete/",
        views_tasks.complete_task,
        name="complete_task",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/tasks/",
        views_tasks.create_task,
        name="create_task",
    ),
]
