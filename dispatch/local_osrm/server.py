"""Prepare a synthetic map and run `osrm-routed` (MLD or CH) on a loopback port.

Two maps of the same area (`synthetic_map.FULL_MAP` for benchmarks and development, the
coarser `TEST_MAP` for the test suite), each prepared for an algorithm on its first use.
Prepared files live in `<home>/maps/<map>-<algorithm>-<key>/` where the key hashes the
generated OSM bytes, the car profile, the OSRM version and the steps run, so changing any of
them re-prepares, two maps never share a folder, and an unchanged setup starts in well under
a second. Usage:

    with start_osrm(max_table_size=100, map_spec=TEST_MAP) as server:
        httpx.get(f"{server.url}/route/v1/driving/6.63,46.52;6.14,46.20")

or from a shell: `python -m dispatch.local_osrm.server [--port P] [--map test]`.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from dispatch.engine.closing import ClosesOnExit
from dispatch.local_osrm import synthetic_map
from dispatch.local_osrm.install import DEFAULT_HOME, OsrmInstall, file_lock, install, osrm_env
from dispatch.local_osrm.synthetic_map import FULL_MAP, TEST_MAP, MapSpec

_BASE = "map"
_READY_MARKER = ".prepared"
# The steps after osrm-extract for each of OSRM's algorithms. Each algorithm is prepared in
# its own folder, on first use: most tests need only MLD (under a second), and contracting
# (CH) costs most of the preparation time.
STEPS = {"mld": ("osrm-partition", "osrm-customize"), "ch": ("osrm-contract",)}
ALGORITHMS = tuple(STEPS)
# A point on the Lausanne grid, used to tell when osrm-routed answers.
_PING_PATH = "/nearest/v1/driving/6.63,46.52"
MAPS = {spec.name: spec for spec in (FULL_MAP, TEST_MAP)}
# Only a hung tool should reach this: the full map's osrm-contract takes about a minute on 2
# idle cores and several on a loaded machine (the test map: seconds).
_TOOL_TIMEOUT_S = 1800


class ServerError(RuntimeError):
    """Preparing or starting osrm-routed failed; the message carries the tool's output."""


def map_key(inst: OsrmInstall, osm: bytes, algorithm: str = "mld") -> str:
    digest = hashlib.sha256()
    steps = ",".join(STEPS[algorithm]).encode()  # another set of steps: another folder
    for part in (inst.version.encode(), inst.car_profile.read_bytes(), osm, steps):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def prepare(
    home: Path = DEFAULT_HOME, map_spec: MapSpec = FULL_MAP, algorithm: str = "mld"
) -> Path:
    """Return the `.osrm` base path of the map prepared for `algorithm`, preparing it if needed
    (in `<home>/maps/<map>-<algorithm>-<key>/`)."""
    inst = install(home)
    osm = synthetic_map.generate(map_spec)
    name = f"{map_spec.name}-{algorithm}"
    folder = home / "maps" / f"{name}-{map_key(inst, osm, algorithm)}"
    base = folder / f"{_BASE}.osrm"
    if (folder / _READY_MARKER).exists():
        return base
    # One lock per map and algorithm: tests preparing the small map never wait behind a
    # benchmark's big one.
    with file_lock(home / "maps" / f"{name}.lock"):
        if not (folder / _READY_MARKER).exists():
            _prepare_into(inst, osm, folder, algorithm)
    return base


def _prepare_into(inst: OsrmInstall, osm: bytes, folder: Path, algorithm: str) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
    try:
        (staging / f"{_BASE}.osm").write_bytes(osm)
        _run(inst, staging, "osrm-extract", "-p", str(inst.car_profile), f"{_BASE}.osm")
        for tool in STEPS[algorithm]:
            _run(inst, staging, tool, f"{_BASE}.osrm")
        (staging / _READY_MARKER).write_text("ok\n")
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run(inst: OsrmInstall, cwd: Path, tool: str, *args: str) -> None:
    # The OSRM tools strip every ".osrm" substring from the data path (so "<repo>/.osrm/maps/x/
    # map.osrm" becomes "<repo>//maps/..."); running in the data folder with a bare file name
    # sidesteps that.
    cmd = [str(inst.exe(tool)), *args]
    done = subprocess.run(  # noqa: S603 - our own unpacked binary, fixed argv
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_TOOL_TIMEOUT_S,
        env=osrm_env(),
        check=False,
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise ServerError(f"{' '.join(cmd)} failed ({done.returncode}):\n{output}")


def free_port() -> int:
    """A currently free loopback TCP port (another process may still grab it; callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OsrmServer(ClosesOnExit):
    """A running osrm-routed; `stop()` (or leaving the `with` block) terminates it."""

    process: subprocess.Popen[bytes]
    port: int
    max_table_size: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def close(self) -> None:
        self.stop()


def start_osrm(
    port: int = 0,
    max_table_size: int = 100,
    *,
    threads: int = 4,
    home: Path = DEFAULT_HOME,
    ready_timeout_s: float = 30.0,
    algorithm: str = "mld",
    map_spec: MapSpec = FULL_MAP,
) -> OsrmServer:
    """Start osrm-routed on 127.0.0.1 (port 0 picks a free port) and wait until it answers.

    `algorithm` is OSRM's "mld" (what OSRM recommends by default, fast to update) or "ch"
    (contraction hierarchies: several times faster `/table` queries, slower to prepare).
    `map_spec` picks the map (tests pass `TEST_MAP`).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
    base = prepare(home, map_spec, algorithm)
    inst = install(home)
    attempts = 3 if port == 0 else 1  # a picked port can be taken between probe and bind
    for attempt in range(attempts):
        server = _spawn(inst, base, port or free_port(), max_table_size, threads, home, algorithm)
        if _wait_ready(server, ready_timeout_s):
            return server
        server.stop()
        if attempt == attempts - 1:
            raise ServerError(f"osrm-routed did not come up:\n{_tail(server.log_path)}")
    raise AssertionError("unreachable")


def _spawn(
    inst: OsrmInstall,
    base: Path,
    port: int,
    max_table: int,
    threads: int,
    home: Path,
    algorithm: str,
) -> OsrmServer:
    log_dir = home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"osrm-routed-{port}.log"
    cmd = [
        str(inst.exe("osrm-routed")), "--algorithm", algorithm, "--ip", "127.0.0.1",
        "--port", str(port), "--max-table-size", str(max_table), "--threads", str(threads),
        # INFO logs one line per request; WARNING keeps the log small in load tests.
        "--verbosity", "WARNING", base.name,  # relative: see _run about ".osrm" in paths
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own unpacked binary, fixed argv
            cmd, cwd=base.parent, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=osrm_env(),
        )  # fmt: skip
    return OsrmServer(process, port, max_table, log_path)


def _wait_ready(server: OsrmServer, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            if httpx.get(server.url + _PING_PATH, timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return False


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run osrm-routed on a synthetic map.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free loopback port")
    parser.add_argument("--max-table-size", type=int, default=100)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="mld")
    parser.add_argument("--map", choices=sorted(MAPS), default=FULL_MAP.name)
    args = parser.parse_args(argv)
    # SIGTERM (kill, process managers) must also stop osrm-routed, not orphan it.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    with start_osrm(
        args.port,
        args.max_table_size,
        home=args.home,
        algorithm=args.algorithm,
        map_spec=MAPS[args.map],
    ) as server:
        print(server.url, flush=True)
        try:
            while server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
