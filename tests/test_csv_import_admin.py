"""The CSV upload page of the configuration admin, with the cast."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Breeder
from accounts.scope import workspace_scope
from lifecycle.models.imports import ImportRun, ImportStatus
from tests.factories import make_user

RAVENSTACK = Path(__file__).resolve().parent.parent / "docs" / "mappings" / "ravenstack"
ACCOUNTS = (
    "account_id,account_name,industry,country,signup_date,referral_source,plan_tier,seats,"
    "is_trial,churn_flag\n"
    "A-100001,Python Place,EdTech,US,2024-03-05,organic,Pro,12,False,False\n"
    "A-100002,Boa Barn,FinTech,UK,2024-04-05,ads,Basic,2,False,False\n"
)
ADD_URL = reverse("admin:lifecycle_importrun_add")


def admin_client(client_for, user, workspace_slug):
    client = client_for(user)
    # Opening a workspace page makes it the one the admin configures. The portfolio
    # redirects owners and admins without breeders of their own to every breeder.
    portfolio = reverse("health:portfolio", args=[workspace_slug])
    assert client.get(portfolio, follow=True).status_code == 200
    return client


def upload(client, csv_text, *, kind="breeders", mapping_name="accounts.toml", dry_run=False):
    mapping = (RAVENSTACK / mapping_name).read_bytes()
    data = {
        "kind": kind,
        "mapping_file": SimpleUploadedFile(mapping_name, mapping),
        "csv_file": SimpleUploadedFile("accounts.csv", csv_text.encode(), "text/csv"),
    }
    if dry_run:
        data["dry_run"] = "on"
    return client.post(ADD_URL, data)


def test_owner_sees_upload_form(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = client.get(ADD_URL)
    assert response.status_code == 200
    assert b'name="mapping_file"' in response.content
    assert b'name="workspace"' not in response.content


def test_owner_upload_imports_into_workspace(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = upload(client, ACCOUNTS)
    assert response.status_code == 302
    with workspace_scope(cast.acme):
        run = ImportRun.objects.get()
        names = sorted(
            Breeder.objects.filter(external_id__startswith="A-1").values_list(
                "business_name", flat=True
            )
        )
    assert response["Location"] == reverse("admin:lifecycle_importrun_change", args=[run.pk])
    assert run.status == ImportStatus.SUCCEEDED
    assert run.origin == "admin"
    assert run.actor == cast.alice
    assert names == ["Boa Barn", "Python Place"]
    assert not Breeder.unscoped_objects.filter(
        workspace=cast.globex, external_id__startswith="A-1"
    ).exists()


def test_bad_row_listed_and_nothing_imported(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = upload(client, ACCOUNTS.replace("2024-04-05", "05/04/2024"))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "accounts.csv line 3: signed_up_at: &#x27;05/04/2024&#x27; does not match" in page
    with workspace_scope(cast.acme):
        assert ImportRun.objects.get().status == ImportStatus.FAILED
        assert not Breeder.objects.filter(external_id__startswith="A-1").exists()


def test_mapping_kind_mismatch_shown_on_form(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    response = upload(client, ACCOUNTS, kind="tickets")
    assert response.status_code == 200
    assert b"This mapping is for breeders, but the kind chosen is tickets." in response.content
    assert not ImportRun.unscoped_objects.exists()


def test_dry_run_upload_keeps_nothing(cast, client_for):
    client = admin_client(client_for, cast.alice, "acme")
    upload(client, ACCOUNTS, dry_run=True)
    with workspace_scope(cast.acme):
        assert ImportRun.objects.get().status == ImportStatus.DRY_RUN
        assert not Breeder.objects.filter(external_id__startswith="A-1").exists()


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_members_without_configure_refused(cast, client_for, who):
    client = admin_client(client_for, getattr(cast, who), "acme")
    assert client.get(ADD_URL, follow=True).status_code == 403
    response = upload(client, ACCOUNTS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not ImportRun.unscoped_objects.exists()
    assert not Breeder.unscoped_objects.filter(external_id__startswith="A-1").exists()


def test_outsider_import_run_looks_missing(cast, client_for):
    charlie = admin_client(client_for, cast.charlie, "globex")
    upload(charlie, ACCOUNTS)
    globex_run = ImportRun.unscoped_objects.get(workspace=cast.globex)
    client = admin_client(client_for, cast.alice, "acme")
    response = client.get(reverse("admin:lifecycle_importrun_change", args=[globex_run.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    listing = client.get(reverse("admin:lifecycle_importrun_changelist")).content
    assert b"accounts.csv" not in listing


def test_superuser_chooses_workspace(cast, client_for):
    operator = make_user("ops@example.com", is_superuser=True, is_staff=True)
    client = client_for(operator)
    page = client.get(ADD_URL).content
    assert b'name="workspace"' in page
    mapping = (RAVENSTACK / "accounts.toml").read_bytes()
    response = client.post(
        ADD_URL,
        {
            "kind": "breeders",
            "workspace": cast.globex.pk,
            "mapping_file": SimpleUploadedFile("accounts.toml", mapping),
            "csv_file": SimpleUploadedFile("accounts.csv", ACCOUNTS.encode()),
        },
    )
    assert response.status_code == 302
    assert Breeder.unscoped_objects.filter(workspace=cast.globex, external_id="A-100001").exists()
    assert not Breeder.unscoped_objects.filter(workspace=cast.acme, external_id="A-100001").exists()
