import pytest

from accounts.cache import workspace_cache_key
from accounts.models import Breeder
from accounts.scope import (
    WorkspaceScopeError,
    active_workspace_id,
    unscoped_across_all_workspaces,
    workspace_scope,
)


def test_query_outside_scope_raises(cast):
    with pytest.raises(WorkspaceScopeError, match="outside a workspace scope"):
        list(Breeder.objects.all())


def test_scope_limits_rows_to_workspace(cast):
    with workspace_scope(cast.acme):
        names = set(Breeder.objects.values_list("name", flat=True))
    assert names == {"Acme Python Farm"}
    with workspace_scope(cast.globex):
        names = set(Breeder.objects.values_list("name", flat=True))
    assert names == {"Globex Gecko House"}


def test_other_workspace_object_not_found_by_id(cast):
    with workspace_scope(cast.acme), pytest.raises(Breeder.DoesNotExist):
        Breeder.objects.get(pk=cast.globex_breeder.pk)


def test_create_fills_scope_workspace(cast):
    with workspace_scope(cast.acme):
        breeder = Breeder.objects.create(name="Scoped", external_id="scoped-1")
    assert breeder.workspace_id == cast.acme.pk


def test_create_in_other_workspace_rejected(cast):
    with workspace_scope(cast.acme), pytest.raises(WorkspaceScopeError, match="Refusing"):
        Breeder.objects.create(workspace=cast.globex, name="Intruder")


def test_nested_scopes_restore_outer(cast):
    with workspace_scope(cast.acme):
        with workspace_scope(cast.globex):
            assert active_workspace_id() == cast.globex.pk
        assert active_workspace_id() == cast.acme.pk
    assert active_workspace_id() is None


def test_unscoped_escape_hatch_sees_all(cast):
    with unscoped_across_all_workspaces():
        assert Breeder.objects.count() == 2


def test_forward_foreign_key_needs_no_scope(cast):
    breeder = Breeder.unscoped_objects.get(pk=cast.acme_breeder.pk)
    assert breeder.workspace.slug == "acme"


def test_cache_key_includes_workspace(cast):
    with workspace_scope(cast.acme):
        acme_key = workspace_cache_key("alert-count", "user-1")
    with workspace_scope(cast.globex):
        globex_key = workspace_cache_key("alert-count", "user-1")
    assert acme_key == f"ws:{cast.acme.pk}:alert-count:user-1"
    assert acme_key != globex_key


def test_cache_key_without_scope_raises(cast):
    with pytest.raises(WorkspaceScopeError):
        workspace_cache_key("alert-count")
