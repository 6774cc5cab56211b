"""Test harness for rxapp, shipped as a pytest plugin (entry point `rxapp`).

QA engineers write Playwright flows against the real production build:

    def test_sign_in(page, rxapp_user):
        page.goto("/login")
        page.get_by_test_id("login-email").fill(rxapp_user.email)
        page.get_by_test_id("login-password").fill(rxapp_user.password)
        page.get_by_test_id("login-submit").click()

Any test during which the server logs an error, or writes the password of an account made
by these fixtures, fails.

Fixtures: `rxapp_server` (the app served in production mode on a free port with a fresh
database, once per test session, i.e. per pytest-xdist worker), `rxapp_build` (the production
frontend, built once per run under a file lock and shared by every worker), `base_url` (its
address, so `page.goto("/login")` works), `rxapp_user` / `rxapp_admin` (a new account per
test) and a browser found on this machine (Playwright's own Chromium when installed, else a
system Chromium).
`python -m rxapp.testing --check-browser` tells which browser the tests will use.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rxapp import runtime
from rxapp.closed_network import apply_closed_network_settings
from rxapp.runtime import free_port, isolated_copy, project_root

if TYPE_CHECKING:
    from collections.abc import Callable

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NO_BROWSER_HELP = (
    "No browser for the end-to-end tests. Install one of:\n"
    "  - Debian/Ubuntu: sudo apt-get install chromium\n"
    "  - Playwright's own build (needs internet): .venv/bin/playwright install chromium\n"
    "or point RXAPP_BROWSER at a Chromium executable."
)
SERVER_ERROR_MARKERS = ("Traceback (most recent call last)", "| ERROR", " ERROR ", "Exception in ")


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = 10,
    interval: float = 0.05,
    message: str = "the condition did not hold in time",
    abort: Callable[[], str | None] | None = None,
) -> Any:
    """Poll `condition` until it returns a truthy value (returned) or `timeout` seconds pass
    (TimeoutError). `abort` may return a reason to stop early (RuntimeError)."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if abort is not None and (reason := abort()):
            raise RuntimeError(reason)
        if time.monotonic() >= deadline:
            raise TimeoutError(message)
        time.sleep(interval)


def find_browser() -> str | None:
    """A Chromium executable: RXAPP_BROWSER, then Playwright's own, then a system one.

    Returns "" for Playwright's own build (no executable_path needed) and None when none exists.
    """
    if override := os.environ.get("RXAPP_BROWSER"):
        return override if Path(override).is_file() else None
    with contextlib.suppress(Exception):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            if Path(pw.chromium.executable_path).is_file():
                return ""
    for name in SYSTEM_BROWSERS:
        if found := shutil.which(name):
            return found
    return None


def browser_launch_args(executable: str | None, *, headless: bool = True) -> dict[str, Any]:
    """Playwright launch options for `executable` (as from `find_browser`)."""
    if executable is None:
        raise RuntimeError(NO_BROWSER_HELP)
    options: dict[str, Any] = {"headless": headless, "args": list(CHROMIUM_FLAGS)}
    if executable:
        options["executable_path"] = executable
    return options


# One production build shared by every server of a test run -------------------------------

# What the frontend build depends on (besides the installed Reflex): hashed to name the build.
_BUILD_INPUTS = ("rxapp", "assets", "reflex.lock", "rxconfig.py", "alembic", "alembic.ini")
_COMPRESSED = (".gz", ".br", ".zst")


def build_key(root: Path) -> str:
    """A hash of everything the built app depends on: its sources, assets, lockfile,
    migrations and the Reflex version. Two checkouts with the same key build the same app."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"reflex {version('reflex')}\n".encode())
    for name in _BUILD_INPUTS:
        top = root / name
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PrebuiltApp:
    """A copy of the project with its production frontend built and a migrated SQLite
    template, made once and then served by any number of servers (see `shared_build`)."""

    folder: Path

    @property
    def app(self) -> Path:
        """The built project copy."""
        return self.folder / "app"

    @property
    def port(self) -> int:
        """The port the build was made for (written into its scripts; replaced per server)."""
        return int((self.folder / "port").read_text())

    @property
    def template_db(self) -> Path:
        """A SQLite database with every migration applied."""
        return self.folder / "template.db"


def shared_build(shared: Path, root: Path | None = None) -> PrebuiltApp:
    """Build the app's production frontend once into `shared/build-<key>`, under a file lock,
    so that every test worker of a run (or any run with the same inputs) reuses it."""
    from filelock import FileLock

    root = root or project_root()
    key = build_key(root)
    shared.mkdir(parents=True, exist_ok=True)
    built = PrebuiltApp(shared / f"build-{key}")
    with FileLock(str(shared / f"build-{key}.lock")):
        if (built.folder / "ready").is_file():
            return built
        work = shared / f"build-{key}.partial"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        app = isolated_copy(root, work / "app")
        port = free_port()
        env = apply_closed_network_settings(dict(os.environ))
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env["REFLEX_DB_URL"] = f"sqlite:///{work / 'template.db'}"
        env["REFLEX_API_URL"] = f"http://localhost:{port}"
        env.setdefault("RXAPP_SECRET_KEY", _test_secret_key())
        for name in ("REFLEX_FRONTEND_PORT", "REFLEX_BACKEND_PORT"):
            env.pop(name, None)
        runtime.migrate(env["REFLEX_DB_URL"], cwd=app, env=env)
        _checkpoint(work / "template.db")  # one self-contained file, to be copied
        result = runtime.reflex(
            "export", "--frontend-only", "--no-zip", "--env", "prod", cwd=app, env=env
        )
        (work / "build.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(
                f"the frontend build failed:\n{(result.stdout + result.stderr)[-3000:]}"
            )
        (work / "port").write_text(str(port))
        (work / "ready").write_text(key)
        shutil.rmtree(built.folder, ignore_errors=True)
        work.rename(built.folder)
    return built


def _checkpoint(sqlite_file: Path) -> None:
    """Move whatever a SQLite database holds in its write-ahead log into the file itself."""
    if sqlite_file.is_file():
        with contextlib.closing(sqlite3.connect(sqlite_file)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def copy_prebuilt(built: PrebuiltApp, destination: Path, port: int) -> Path:
    """A copy of a prebuilt app that serves its frontend for `port`: installed packages are
    hard-linked (read only), everything else copied, and the built scripts rewritten to
    reach the backend on `port` (precompressed copies of rewritten files are dropped)."""
    old, new = f"localhost:{built.port}".encode(), f"localhost:{port}".encode()

    def copy(source: str, target: str) -> None:
        if "node_modules" in Path(source).parts:
            with contextlib.suppress(OSError):
                os.link(source, target)
                return
        shutil.copy2(source, target)

    shutil.copytree(
        built.app,
        destination,
        symlinks=True,
        copy_function=copy,
        ignore=shutil.ignore_patterns("__pycache__", ".states"),
    )
    client = destination / ".web" / "build"
    for path in client.rglob("*"):
        if not path.is_file() or path.suffix in _COMPRESSED:
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))
            for suffix in _COMPRESSED:
                path.with_name(path.name + suffix).unlink(missing_ok=True)
    return destination


def serve_prebuilt(port: int) -> None:
    """`reflex run --env prod` on `port` in the current (prebuilt) project, without building
    the frontend again: Reflex still compiles the pages and writes env.json, then serves."""
    from reflex.reflex import cli
    from reflex.utils import build

    build.setup_frontend_prod = build.setup_frontend  # the bundle is already built
    cli.main(
        ["run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
        prog_name="reflex",
    )


@dataclass(frozen=True)
class Account:
    """An account made for a test, with the password in clear for the browser to type."""

    email: str
    password: str
    is_admin: bool = False


class RxappServer:
    """The app in production mode (`reflex run --env prod`) on one port, with its own database."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        db_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        root: Path | None = None,
        prebuilt: PrebuiltApp | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.prebuilt = prebuilt
        if prebuilt is not None:
            # A copy of a shared build, pointed at this server's port: no build of its own.
            self.root = copy_prebuilt(prebuilt, workdir / "app", self.port)
        else:
            # By default the app is built in a copy of the project, so that a `make run` of
            # the same checkout (or another test session) and this server never share a build.
            self.root = root or isolated_copy(project_root(), workdir / "app")
        self.db_url = db_url or f"sqlite:///{workdir / 'rxapp-test.db'}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.extra_env = extra_env or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._passwords: list[str] = []

    @property
    def url(self) -> str:
        """The address a browser opens."""
        return f"http://localhost:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's first process (its workers are its descendants), once started."""
        return self._process.pid if self._process is not None else None

    def env(self) -> dict[str, str]:
        """The environment of the server: closed network, this database, a test secret key."""
        env = apply_closed_network_settings(dict(os.environ))
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env["REFLEX_DB_URL"] = self.db_url
        env.setdefault("RXAPP_SECRET_KEY", _test_secret_key())
        # Every browser of a test run comes from 127.0.0.1: a per-client limit on wrong
        # passwords would let one test's failures throttle the next test's sign-ins.
        env.setdefault("RXAPP_CLIENT_FAILURES_PER_HOUR", "100000")
        env.pop("REFLEX_FRONTEND_PORT", None)
        env.pop("REFLEX_BACKEND_PORT", None)
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        """Apply the committed migrations to this server's database."""
        runtime.migrate(self.db_url, cwd=self.root, env=self.env())

    def start(self, *, timeout: float = 900) -> RxappServer:
        """Migrate, build the frontend (unless prebuilt) and serve; return once the page and
        the backend answer."""
        port = str(self.port)
        template = self.prebuilt.template_db if self.prebuilt else None
        if template is not None and self.db_url == f"sqlite:///{self.workdir / 'rxapp-test.db'}":
            shutil.copyfile(template, self.workdir / "rxapp-test.db")  # migrated already
        else:
            self.migrate()
        if self.prebuilt is not None:
            self._process = runtime.start_reflex(
                "--serve-prebuilt", port,
                cwd=self.root, env=self.env(), log_path=self.log_path, module="rxapp.testing",
            )  # fmt: skip
        else:
            self._process = runtime.start_reflex(
                "run", "--env", "prod", "--frontend-port", port, "--backend-port", port,
                cwd=self.root, env=self.env(), log_path=self.log_path,
            )  # fmt: skip
        try:
            wait_until(
                lambda: self._answers("/ping") and self._answers("/login"),
                timeout=timeout,
                interval=0.25,
                message=f"rxapp did not answer within {timeout:.0f} s",
                abort=self._exited,
            )
        except (TimeoutError, RuntimeError) as error:
            self.stop()
            raise RuntimeError(f"{error}:\n{self.log_tail()}") from None
        return self

    def _exited(self) -> str | None:
        if self._process is not None and self._process.poll() is not None:
            return f"rxapp exited with {self._process.returncode}"
        return None

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and every process it started."""
        process, self._process = self._process, None
        runtime.stop_group(process)

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        process, self._process = self._process, None
        runtime.stop_group(process, grace=0)

    def log_size(self) -> int:
        """Bytes logged so far; pass to `errors_since`."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def errors_since(self, offset: int) -> list[str]:
        """Log lines after `offset` that show a server error."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if any(m in line for m in SERVER_ERROR_MARKERS)]

    def leaked_secrets_since(self, offset: int) -> list[str]:
        """Passwords of accounts made by this harness that appear in the log after `offset`."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        return [secret for secret in self._passwords if secret in text]

    def log_tail(self, lines: int = 60) -> str:
        """The end of the server log, for failure messages."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        """A database session on the server's database (for setup and assertions)."""
        from rxapp.services.database import session_for

        with session_for(self.db_url) as session:
            yield session

    def create_user(
        self, email: str | None = None, password: str | None = None, *, admin: bool = False
    ) -> Account:
        """Create an account directly in the server's database."""
        from rxapp.services import accounts
        from rxapp.services.clock import utcnow

        email = email or f"qa-{uuid.uuid4().hex[:12]}@example.com"
        password = password or f"pw-{uuid.uuid4().hex}"
        with self.db() as session:
            accounts.create_user(session, email, password, now=utcnow(), is_admin=admin)
        self._passwords.append(password)
        return Account(email=email.strip().lower(), password=password, is_admin=admin)

    def __enter__(self) -> RxappServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _test_secret_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# pytest plugin ------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rxapp")
    group.addoption(
        "--rxapp-keep-logs",
        action="store_true",
        help="keep the rxapp server's working folder (database and log) after the run",
    )


def pytest_configure(config: pytest.Config) -> None:
    apply_closed_network_settings()
    # Registered now, after every plugin, so its fixtures win over pytest-playwright's
    # defaults of the same name (browser_type_launch_args, base_url).
    if not config.pluginmanager.has_plugin("rxapp.testing_overrides"):
        config.pluginmanager.import_plugin("rxapp.testing_overrides")


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this run sees: pytest-xdist workers' base folders share a parent
    that belongs to this run alone; without xdist, this session's own base folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def rxapp_build(tmp_path_factory: pytest.TempPathFactory) -> PrebuiltApp:
    """The production build of the app, made once per test run and shared by its workers."""
    return shared_build(_shared_folder(tmp_path_factory) / "rxapp-builds")


@pytest.fixture(scope="session")
def rxapp_server(
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
    rxapp_build: PrebuiltApp,
) -> Iterator[RxappServer]:
    """The app in production mode on a free port with a fresh database, for the whole session
    (one per test worker, each serving the run's one build)."""
    workdir = tmp_path_factory.mktemp("rxapp-server")
    server = RxappServer(workdir, prebuilt=rxapp_build)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if pytestconfig.getoption("--rxapp-keep-logs"):
            print(f"\nrxapp server files kept in {workdir}")


@pytest.fixture
def rxapp_user(rxapp_server: RxappServer) -> Account:
    """A new ordinary account for this test."""
    return rxapp_server.create_user()


@pytest.fixture
def rxapp_admin(rxapp_server: RxappServer) -> Account:
    """A new admin account for this test."""
    return rxapp_server.create_user(admin=True)


@pytest.fixture(autouse=True)
def _rxapp_fails_on_server_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which the app server logged an error."""
    if not {"rxapp_server", "base_url"} & set(request.fixturenames) or (
        request.config.getoption("--base-url", default=None)
    ):
        yield
        return
    server: RxappServer = request.getfixturevalue("rxapp_server")
    offset = server.log_size()
    yield
    if errors := server.errors_since(offset):
        pytest.fail("the rxapp server logged errors during this test:\n" + "\n".join(errors[:20]))
    if server.leaked_secrets_since(offset):
        pytest.fail("the rxapp server wrote a test account's password into its log")


def main(argv: list[str] | None = None) -> int:
    """`python -m rxapp.testing --check-browser`: say which browser the tests will use."""
    apply_closed_network_settings()
    parser = argparse.ArgumentParser(prog="python -m rxapp.testing")
    parser.add_argument("--check-browser", action="store_true", help="find a browser or explain")
    parser.add_argument(
        "--serve-prebuilt",
        type=int,
        metavar="PORT",
        help="serve the prebuilt project in the current folder on PORT (used by the harness)",
    )
    args = parser.parse_args(argv)
    if args.serve_prebuilt:
        serve_prebuilt(args.serve_prebuilt)
        return 0
    if not args.check_browser:
        parser.print_help()
        return 2
    found = find_browser()
    if found is None:
        print(NO_BROWSER_HELP, file=sys.stderr)
        return 1
    print(f"browser for the tests: {found or 'Playwright-managed Chromium'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
