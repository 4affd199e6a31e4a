"""The production-shaped pair on one codebase: gunicorn gthread for HTTP (API, admin, static
files through whitenoise) and uvicorn for the websockets under /ws/.

`make serve` runs it in the foreground on DATABASE_URL and REDIS_URL; `make bench` starts it
for the loads. DEBUG is off. A missing SECRET_KEY gets a throwaway one (with a warning): fine
for local serving, never for a deployment (sessions and tokens die with the process).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


@dataclass(frozen=True)
class Shape:
    """Server sizing: web workers x threads; the database pool per worker matches threads."""

    port: int = 8000
    ws_port: int = 8001
    workers: int = 2
    threads: int = 4
    asgi_workers: int = 1


@dataclass
class Stack:
    web: subprocess.Popen[bytes]
    asgi: subprocess.Popen[bytes]
    shape: Shape
    env: dict[str, str] = field(repr=False)

    def stop(self) -> None:
        for proc in (self.web, self.asgi):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.web, self.asgi):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def shape_from_env() -> Shape:
    return Shape(
        port=int(os.environ.get("PORT", "8000")),
        ws_port=int(os.environ.get("WS_PORT", "8001")),
        workers=int(os.environ.get("WEB_WORKERS", "2")),
        threads=int(os.environ.get("WEB_THREADS", "4")),
        asgi_workers=int(os.environ.get("ASGI_WORKERS", "1")),
    )


def serving_env(shape: Shape, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for local production-shaped serving on plain loopback HTTP."""
    env = dict(os.environ if base is None else base)
    env.pop("ATMR_TESTING", None)
    env["DEBUG"] = "0"
    env["SECURE_SSL_REDIRECT"] = "0"  # plain HTTP on loopback: no TLS proxy in front
    env["SECURE_COOKIES"] = "0"  # so the admin log-in works over http://127.0.0.1
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("DB_POOL_MAX_SIZE", str(shape.threads))
    if not env.get("SECRET_KEY"):
        print(
            "WARNING: SECRET_KEY is not set; using a throwaway key for this local run only "
            "(sessions and tokens stop working when it stops).",
            file=sys.stderr,
        )
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def prepare(env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")


# realtime/PROTOCOL.md's limits: frames over WS_MAX_SIZE bytes are refused (1009) before they
# are buffered, and per-message deflate stays off, so a small compressed frame can never
# inflate to megabytes (nor cost zlib time on the loop every other socket shares).
WS_MAX_SIZE = 65_536


def uvicorn_command(shape: Shape, host: str = "127.0.0.1") -> list[str]:
    """The websocket server's command line (docker-compose.yml's `asgi` uses the same flags)."""
    command = [PY, "-m", "uvicorn", "atmr.asgi:application", "--host", host]
    command += ["--port", str(shape.ws_port), "--workers", str(shape.asgi_workers)]
    command += ["--ws-max-size", str(WS_MAX_SIZE), "--ws-per-message-deflate", "false"]
    return [*command, "--no-access-log"]


def metrics_dir(env: dict[str, str], server: str) -> str:
    """An empty PROMETHEUS_MULTIPROC_DIR for one server's processes (atmr/metrics.py).

    Under $PROMETHEUS_MULTIPROC_DIR when set, else a fresh temporary directory. Emptied at
    start: files a previous run left would add its counts to this one's. Each server (web,
    ws) has its own, so scraping both ports counts every process once.
    """
    base = env.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="atmr-metrics-")
    path = Path(base) / server
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return str(path)


def start(shape: Shape, env: dict[str, str], log_dir: Path | None = None) -> Stack:
    def out(name: str) -> IO[bytes] | None:
        if log_dir is None:
            return None
        log_dir.mkdir(parents=True, exist_ok=True)
        return (log_dir / f"{name}.log").open("wb")

    gunicorn = [PY, "-m", "gunicorn", "atmr.wsgi:application", "-c", "python:atmr.gunicorn_conf"]
    gunicorn += ["--bind", f"127.0.0.1:{shape.port}", "--workers", str(shape.workers)]
    gunicorn += ["--threads", str(shape.threads)]
    uvicorn = uvicorn_command(shape)

    def spawn(name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env | {"PROMETHEUS_MULTIPROC_DIR": metrics_dir(env, name)},
            stdout=out(name),
            stderr=subprocess.STDOUT if log_dir else None,
        )

    stack = Stack(
        web=spawn("gunicorn", gunicorn), asgi=spawn("uvicorn", uvicorn), shape=shape, env=env
    )
    try:
        wait_until_up(f"http://127.0.0.1:{shape.port}/api/health/ready")
        wait_until_up(f"http://127.0.0.1:{shape.ws_port}/api/health")
    except Exception:
        stack.stop()
        raise
    return stack


def wait_until_up(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.3)


def main() -> int:
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        print(
            f"make serve needs {' and '.join(missing)} (the production shape runs on "
            "PostgreSQL and Redis), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/atmr "
            "REDIS_URL=redis://127.0.0.1:6379/0 make serve",
            file=sys.stderr,
        )
        return 2
    shape = shape_from_env()
    env = serving_env(shape)
    prepare(env)
    stack = start(shape, env)
    print(
        f"HTTP (gunicorn gthread {shape.workers}x{shape.threads}): http://127.0.0.1:{shape.port}/"
        f"  websockets (uvicorn): ws://127.0.0.1:{shape.ws_port}/ws/  - Ctrl-C stops both."
    )
    signal.signal(signal.SIGTERM, lambda *_: stack.stop())
    try:
        while stack.web.poll() is None and stack.asgi.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
