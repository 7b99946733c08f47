from django.urls import path

from programs import views

app_name = "programs"

urlpatterns = [
    # Breeder-facing pages reached from email links; no sign-in.
    path("e/u/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("e/p/<str:token>/", views.preferences_view, name="preferences"),
    path("e/s/<str:token>/", views.survey_view, name="survey"),
    # The programs panel of the breeder 360.
    path(
        "w/<slug:workspace_slug>/programs/breeders/<str:public_id>/panel/",
        views.breeder_programs_panel,
        name="breeder_panel",
    ),
    path(
        "w/<slug:workspace_slug>/programs/breeders/<str:public_id>/enroll/",
        views.enroll_breeder,
        name="enroll",
    ),
]
