"""The test cast, after the healthchecks habit:

- alice: owner of the Acme workspace;
- bob: CSM (a teammate) in Acme;
- vera: viewer (read-only) in Acme;
- charlie: owner of the Globex workspace, an outsider to Acme.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from accounts.models import Breeder, User, Workspace
from accounts.roles import Role
from tests.factories import make_breeder, make_membership, make_user, make_workspace

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class Cast:
    acme: Workspace
    globex: Workspace
    alice: User
    bob: User
    vera: User
    charlie: User
    acme_breeder: Breeder
    globex_breeder: Breeder


@pytest.fixture
def cast(db: None) -> Cast:
    acme = make_workspace("acme", name="Acme Reptiles")
    globex = make_workspace("globex", name="Globex Geckos")
    alice = make_user("alice@example.com", full_name="Alice Owner")
    bob = make_user("bob@example.com", full_name="Bob CSM")
    vera = make_user("vera@example.com", full_name="Vera Viewer")
    charlie = make_user("charlie@example.com", full_name="Charlie Outsider")
    make_membership(acme, alice, Role.OWNER)
    make_membership(acme, bob, Role.CSM)
    make_membership(acme, vera, Role.VIEWER)
    make_membership(globex, charlie, Role.OWNER)
    return Cast(
        acme=acme,
        globex=globex,
        alice=alice,
        bob=bob,
        vera=vera,
        charlie=charlie,
        acme_breeder=make_breeder(acme, name="Acme Python Farm", assigned_csm=bob),
        globex_breeder=make_breeder(globex, name="Globex Gecko House"),
    )


@pytest.fixture
def client_for() -> Iterator:
    """Return a function that gives a signed-in test client for a user."""

    def signed_in(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    yield signed_in


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Rate-limit counters live in the cache; each test starts with none. Only this
    # run's keys are deleted: cache.clear() would flush the whole Redis database,
    # including the queues of a `make run` using the same server.
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
