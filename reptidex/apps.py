from django.contrib.admin.apps import AdminConfig


class ReptidexAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.WorkspaceAdminSite"
