from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as account_views

urlpatterns = [
    # Browsers request /favicon.ico on pages without a <link rel="icon">, such as the
    # admin's. Browsers cache a permanent redirect, so it points at the unhashed
    # static name, which collectstatic keeps next to the hashed copy.
    path(
        "favicon.ico",
        RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg", permanent=True),
    ),
    # Staff sign in through allauth everywhere, the admin included, so rate limits
    # and MFA apply to every sign-in.
    path("admin/login/", account_views.admin_login),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("lifecycle.urls")),
    path("", include("health.urls")),
    path("", include("programs.urls")),
    path("", include("segments.urls")),
    path("", include("lifecycle.urls_webhooks")),
]
