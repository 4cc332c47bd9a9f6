"""Find Node and the test-time npm packages of tests/websdk, installing them once if missing.

Third-party JavaScript never enters the repository: ``npm ci`` installs exactly what
package-lock.json pins. Tests call ``ensure_node_modules()`` and skip with ``unavailable_reason()``
when it returns None (no ``node``/``npm``, no network, ...). Set ``KIBITZ_NO_NPM_INSTALL=1`` to
forbid the install attempt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["WEBSDK_DIR", "ensure_node_modules", "node_executable", "unavailable_reason"]

WEBSDK_DIR = Path(__file__).resolve().parent
NPM_CI_TIMEOUT_S = 300.0

_state: dict[str, Path | str | None] = {}


def node_executable() -> str | None:
    """Path of ``node`` on PATH, or None."""
    return shutil.which("node")


def unavailable_reason() -> str:
    """Why the last ``ensure_node_modules()`` returned None (empty if it did not)."""
    reason = _state.get("reason")
    return reason if isinstance(reason, str) else ""


def ensure_node_modules() -> Path | None:
    """Return tests/websdk/node_modules with every locked dependency, or None (see reason).

    Runs ``npm ci --no-audit --no-fund`` at most once per process, under a file lock so
    parallel test processes do not install over each other.
    """
    if "result" in _state:
        result = _state["result"]
        return result if isinstance(result, Path) else None
    result, reason = _ensure()
    _state["result"], _state["reason"] = result, reason
    return result


def _ensure() -> tuple[Path | None, str]:
    if node_executable() is None:
        return None, "`node` is not on PATH"
    modules = WEBSDK_DIR / "node_modules"
    missing = _missing_packages(modules)
    if not missing:
        return modules, ""
    if os.environ.get("KIBITZ_NO_NPM_INSTALL"):
        return None, f"npm packages missing ({', '.join(missing)}) and KIBITZ_NO_NPM_INSTALL set"
    npm = shutil.which("npm")
    if npm is None:
        return None, f"npm packages missing ({', '.join(missing)}) and `npm` is not on PATH"
    tag = hashlib.sha256(str(WEBSDK_DIR).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"kibitz-npm-ci-{tag}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing right now
        try:
            missing = _missing_packages(modules)
            if missing:
                failure = _npm_ci(npm)
                if failure:
                    return None, failure
                missing = _missing_packages(modules)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if missing:
        return None, f"npm ci finished but packages are still missing: {', '.join(missing)}"
    return modules, ""


def _npm_ci(npm: str) -> str:
    """Run ``npm ci``; return an error description, or "" on success."""
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=WEBSDK_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm ci failed: {exc}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"npm ci exited {done.returncode}: {' / '.join(tail)}"
    return ""


def _missing_packages(modules: Path) -> list[str]:
    """Dependencies of package.json that are absent or at another version than locked."""
    manifest = json.loads((WEBSDK_DIR / "package.json").read_text())
    lock = json.loads((WEBSDK_DIR / "package-lock.json").read_text())
    locked = lock.get("packages", {})
    missing = []
    for name in manifest.get("dependencies", {}):
        want = locked.get(f"node_modules/{name}", {}).get("version")
        try:
            have = json.loads((modules / name / "package.json").read_text()).get("version")
        except (OSError, ValueError):
            have = None
        if have is None or (want is not None and have != want):
            missing.append(name)
    return missing
