from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
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
