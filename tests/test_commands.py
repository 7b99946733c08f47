"""Operator commands and the production-settings check."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, Workspace, WriteKey
from accounts.roles import Role
from accounts.scope import workspace_scope
from accounts.services import find_workspace_by_write_key
from health.models import HealthScore

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_workspace_with_owner(db):
    output = run(
        "create_workspace",
        "--name",
        "Scale Co",
        "--slug",
        "scale-co",
        "--owner-email",
        "Founder@Scale.example",
        "--time-zone",
        "Europe/Berlin",
    )
    workspace = Workspace.objects.get(slug="scale-co")
    assert workspace.time_zone == "Europe/Berlin"
    membership = Membership.unscoped_objects.get(workspace=workspace)
    assert membership.role == Role.OWNER
    assert membership.user.email == "founder@scale.example"
    password = output.split("shown once): ")[1].strip()
    assert membership.user.check_password(password)


def test_create_workspace_rejects_bad_time_zone(db):
    with pytest.raises(CommandError, match="time_zone: Mars/Base is not an IANA time zone"):
        run(
            "create_workspace",
            "--name",
            "X",
            "--slug",
            "x",
            "--owner-email",
            "x@x.example",
            "--time-zone",
            "Mars/Base",
        )
    assert not Workspace.objects.filter(slug="x").exists()


def test_create_workspace_rejects_taken_slug(cast):
    with pytest.raises(CommandError, match="already exists"):
        run("create_workspace", "--name", "X", "--slug", "acme", "--owner-email", "x@x.example")


def test_issue_and_revoke_write_key(cast):
    output = run("issue_write_key", "--workspace", "acme", "--name", "Production")
    raw_key = output.strip().splitlines()[-1]
    assert find_workspace_by_write_key(raw_key) == cast.acme
    with workspace_scope(cast.acme):
        key = WriteKey.objects.get()
    assert key.key_hash != raw_key
    assert raw_key.startswith(key.prefix)
    assert len(key.prefix) < len(raw_key) // 4
    run("revoke_write_key", "--workspace", "acme", "--prefix", key.prefix)
    assert find_workspace_by_write_key(raw_key) is None


def test_revoke_unknown_key_names_prefix(cast):
    with pytest.raises(CommandError, match="No active write key starting with 'rdx_nope'"):
        run("revoke_write_key", "--workspace", "acme", "--prefix", "rdx_nope")


def test_write_key_of_one_workspace_cannot_be_revoked_from_another(cast):
    raw_key = run("issue_write_key", "--workspace", "acme", "--name", "P").strip().splitlines()[-1]
    with pytest.raises(CommandError):
        run("revoke_write_key", "--workspace", "globex", "--prefix", raw_key[:10])
    assert find_workspace_by_write_key(raw_key) == cast.acme


def test_list_workspaces(cast):
    output = run("list_workspaces")
    assert "acme" in output
    assert "globex" in output


def test_seed_demo_is_idempotent(db):
    run("seed_demo", "--breeders", "12")
    run("seed_demo", "--breeders", "12")
    workspace = Workspace.objects.get(slug="demo")
    with workspace_scope(workspace):
        assert workspace.breeder_set.count() == 12
        roles = sorted(Membership.objects.values_list("role", flat=True))
        from segments.models import CsmProfile

        csm_roles = list(CsmProfile.objects.values_list("csm_role", flat=True))
    assert roles == sorted([Role.OWNER, Role.MANAGER, Role.CSM, Role.CSM])
    assert csm_roles == ["growth", "growth"]


def test_production_start_names_missing_settings():
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "REDIS_URL",
            "EMAIL_HOST",
            "DEFAULT_FROM_EMAIL",
        }
    }
    env["DJANGO_SETTINGS_MODULE"] = "reptidex.settings"
    env["DATABASE_URL"] = "postgres://db.internal/reptidex"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "SECRET_KEY, ALLOWED_HOSTS, REDIS_URL, EMAIL_HOST, DEFAULT_FROM_EMAIL" in last_line
    assert "DATABASE_URL" not in last_line


def test_invalid_boolean_setting_named():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="reptidex.settings", DEBUG="maybe")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_recompute_health_scores_demo(db):
    run("seed_demo", "--breeders", "6")
    output = run("recompute_health", "--workspace", "demo")
    assert "6 breeders scored" in output
    workspace = Workspace.objects.get(slug="demo")
    with workspace_scope(workspace):
        assert HealthScore.objects.count() == 6
