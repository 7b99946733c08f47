from django.urls import path

from health import views

app_name = "health"

urlpatterns = [
    path("w/<slug:workspace_slug>/", views.portfolio, name="portfolio"),
]
