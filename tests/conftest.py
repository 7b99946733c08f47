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
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
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
    # Rate-limit counters live in the cache; each test starts with none.
    _delete_run_cache_keys()
    yield


def _delete_run_cache_keys() -> None:
    """Delete this run's cache keys only: cache.clear() would flush the whole Redis
    database, including the queues of a `make run` using the same server."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[object]:
    """Run a real Celery worker (solo pool, in a thread of this process) on Redis.

    Tasks go through the broker and the worker's own database connection, so tests
    using it need committed data, hence `transactional_db`.
    """
    from celery.contrib.testing.worker import start_worker

    from reptidex.celery import app
    from tests import worker_tasks  # noqa: F401  (registers the test-only tasks)

    app.conf.task_always_eager = False
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10
        ) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Debian's Chromium driven by Playwright (Playwright's own browser downloads are
    not used). The flags keep Chromium from calling any host but the test server.

    Playwright's sync API runs an event loop in this thread, and Django refuses ORM
    calls from a thread with a running loop unless told it is safe. It is safe here
    because the loop only waits on the browser. The browser is started per test, so
    the permission never reaches tests that do not use it.
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, live_server: object) -> Iterator:
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=live_server.url,  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def pytest_configure(config: pytest.Config) -> None:
    # Running under the production settings would send real email and skip the fast
    # test hasher; stop at once instead of failing confusingly later.
    if settings.SETTINGS_MODULE != "reptidex.test_settings":
        raise pytest.UsageError(
            f"Tests need DJANGO_SETTINGS_MODULE=reptidex.test_settings, not "
            f"{settings.SETTINGS_MODULE}. Run them with `make test`."
        )


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Let pytest-django drop the test database at the end of the run.

    A live-server thread or a browser test can leave a connection to the test database
    open, and PostgreSQL refuses to drop a database that others are using, which would
    leave one test database behind per run. This fixture is set up after the database
    and torn down before it, so it can end those connections first.
    """
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # Each run has its own Celery queue (see reptidex/test_settings.py); remove it and
    # kombu's binding set for it, so runs leave nothing behind in Redis.
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    broker.delete(queue, f"_kombu.binding.{queue}")
    broker.close()
    _delete_run_cache_keys()


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1, with Django's SMTP backend pointed at it."""
    from tests.smtp import SMTPServer

    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        yield server
