"""Fetch the osrm-backend command-line tools from PyPI into `<repo>/.osrm/` (git-ignored).

The `osrm-bindings` wheel ships statically linked `osrm-*` executables and the Lua profiles.
We only need those, not the Python extension, so the wheel is downloaded for the platform it
is built for (CPython 3.12 abi3, manylinux_2_28 x86_64) whatever our interpreter is, and the
two folders are unpacked. The binaries link only against glibc/libstdc++ (checked with
`ldd`), so no LD_LIBRARY_PATH is needed; `osrm_env()` still exists as the one place to add
it should a later wheel bundle shared libraries.

Idempotent and safe to run from several processes: a file lock serialises installs, files
are unpacked into a temporary folder that is renamed into place, and a finished install is
recognised by its marker file.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

OSRM_VERSION = "26.10.0"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "3.12"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HOME = REPO_ROOT / ".osrm"
_MARKER = ".installed"
_EXECUTABLES = (
    "osrm-extract",
    "osrm-partition",
    "osrm-customize",
    "osrm-contract",
    "osrm-routed",
)


class InstallError(RuntimeError):
    """The binaries could not be fetched or do not run; the message says why."""


@dataclass(frozen=True)
class OsrmInstall:
    root: Path  # <home>/osrm-<version>

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def profiles_dir(self) -> Path:
        return self.root / "profiles"

    @property
    def car_profile(self) -> Path:
        return self.profiles_dir / "car.lua"

    @property
    def version(self) -> str:
        return OSRM_VERSION

    def exe(self, name: str) -> Path:
        return self.bin_dir / name


def osrm_env() -> dict[str, str]:
    """Environment for running the binaries (see module docstring about LD_LIBRARY_PATH)."""
    return dict(os.environ)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(home: Path = DEFAULT_HOME) -> OsrmInstall:
    """Make sure `<home>/osrm-<version>` holds working binaries and profiles; return it.

    Raises InstallError with pip's or the binary's output when that is not possible.
    """
    target = OsrmInstall(home / f"osrm-{OSRM_VERSION}")
    if (target.root / _MARKER).exists():
        return target
    with file_lock(home / "install.lock"):
        if not (target.root / _MARKER).exists():
            _install_into(target, _download_wheel(home / "wheels"))
    return target


def _download_wheel(wheel_dir: Path) -> Path:
    wheels = sorted(wheel_dir.glob(f"osrm_bindings-{OSRM_VERSION}-*.whl"))
    if wheels:
        return wheels[0]
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--python-version", WHEEL_PYTHON, "--platform", WHEEL_PLATFORM,
        f"osrm-bindings=={OSRM_VERSION}", "-d", str(wheel_dir),
    ]  # fmt: skip
    # Fixed argv (our own interpreter, a pinned requirement), no shell.
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    wheels = sorted(wheel_dir.glob(f"osrm_bindings-{OSRM_VERSION}-*.whl"))
    if done.returncode != 0 or not wheels:
        raise InstallError(f"pip download of osrm-bindings failed:\n{done.stdout}\n{done.stderr}")
    return wheels[0]


def _install_into(target: OsrmInstall, wheel: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".osrm-staging-", dir=target.root.parent))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                _extract_member(archive, info, staging)
        _check_binaries(OsrmInstall(staging))
        (staging / _MARKER).write_text(OSRM_VERSION + "\n")
        shutil.rmtree(target.root, ignore_errors=True)
        staging.rename(target.root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, staging: Path) -> None:
    for prefix, dest in (("osrm/bin/", "bin"), ("osrm/share/profiles/", "profiles")):
        if info.filename.startswith(prefix) and not info.is_dir():
            out = staging / dest / info.filename.removeprefix(prefix)
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            if dest == "bin":
                # Zip entries lose the executable bit through ZipFile.extract; restore it.
                out.chmod(out.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _check_binaries(inst: OsrmInstall) -> None:
    for name in _EXECUTABLES:
        exe = inst.exe(name)
        if not exe.exists():
            raise InstallError(f"{name} missing from the osrm-bindings wheel")
        done = subprocess.run(  # noqa: S603 - our own unpacked binary, fixed argv
            [str(exe), "--version"], capture_output=True, text=True, timeout=30,
            env=osrm_env(), check=False,
        )  # fmt: skip
        if done.returncode != 0 or OSRM_VERSION not in done.stdout:
            raise InstallError(f"{name} --version failed ({done.returncode}): {done.stderr}")
    if not inst.car_profile.exists():
        raise InstallError("car.lua missing from the osrm-bindings wheel")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Install osrm-backend binaries under .osrm/")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    inst = install(parser.parse_args(argv).home)
    print(inst.root)


if __name__ == "__main__":
    main()
