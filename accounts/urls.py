from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/", views.switch_workspace, name="switch_workspace"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("w/<slug:workspace_slug>/members/", views.members, name="members"),
    path("w/<slug:workspace_slug>/members/invite/", views.invite, name="invite"),
    path(
        "w/<slug:workspace_slug>/members/<str:public_id>/role/",
        views.change_role,
        name="change_role",
    ),
    path(
        "w/<slug:workspace_slug>/members/<str:public_id>/remove/",
        views.remove_member,
        name="remove_member",
    ),
    path(
        "w/<slug:workspace_slug>/invitations/<str:public_id>/revoke/",
        views.revoke_invitation,
        name="revoke_invitation",
    ),
    path("w/<slug:workspace_slug>/settings/security/", views.security, name="security"),
    path("w/<slug:workspace_slug>/breeders/", views.breeder_list, name="breeder_list"),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/",
        views.breeder_detail,
        name="breeder_detail",
    ),
    path(
        "w/<slug:workspace_slug>/breeders/<str:public_id>/edit/",
        views.breeder_edit,
        name="breeder_edit",
    ),
]
