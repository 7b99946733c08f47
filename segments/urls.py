from django.urls import path

from segments import views

app_name = "segments"

urlpatterns = [
    path("w/<slug:workspace_slug>/capacity/", views.capacity, name="capacity"),
    path(
        "w/<slug:workspace_slug>/capacity/breeders/<str:public_id>/assign/",
        views.assign_breeder,
        name="assign_breeder",
    ),
    path(
        "w/<slug:workspace_slug>/capacity/members/<str:public_id>/csm-role/",
        views.set_csm_role,
        name="set_csm_role",
    ),
    path("w/<slug:workspace_slug>/kpis/", views.kpis, name="kpis"),
]
