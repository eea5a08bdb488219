"""Starting the bridge beside the gateway, in the gateway's process and event loop (``fixgw run``).

``bridge_keys`` reads the keys the ``[bridge]`` section names (a ``ConfigError`` names the bad one);
``demo_keys`` makes the embedded demo's keys: fresh random secrets each run, written to files of mode
0600 under ``var/bridge/`` (the command line prints the paths, never a secret). ``run_bridge`` serves
the app over a ``LiveView`` of the gateway until cancelled and reports the bound port.
"""

from __future__ import annotations

import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import anyio
from anyio.abc import TaskStatus

from fixgw.config import BridgeConfig
from fixgw.gateway import Gateway, LiveView

from .app import create_app
from .keys import BridgeKey, KeyRing, Permission, load_keys
from .server import serve

__all__ = ["DemoKey", "demo_keys", "bridge_keys", "run_bridge", "DEMO_KEY_DIR"]

#: Where the demo's key secrets go, relative to the working directory.
DEMO_KEY_DIR = Path("var") / "bridge"
_DEMO = (
    ("demo-read", (Permission.READ,)),
    ("demo-trade", (Permission.READ, Permission.TRADE)),
    ("demo-admin", (Permission.READ, Permission.ADMIN)),
)


@dataclass(frozen=True, slots=True)
class DemoKey:
    """A demo key as the banner shows it: id, permissions, the file holding its secret."""

    key_id: str
    permissions: tuple[str, ...]
    secret_file: Path


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: set it
        os.write(fd, (secret + "\n").encode("ascii"))
    finally:
        os.close(fd)


def demo_keys(directory: Path = DEMO_KEY_DIR) -> tuple[KeyRing, list[DemoKey]]:
    """Make the demo's read-only, trading and admin keys; write each secret to ``directory/<id>.secret``."""
    directory.mkdir(parents=True, exist_ok=True)
    keys, shown = [], []
    for key_id, permissions in _DEMO:
        secret = secrets.token_urlsafe(32)
        path = directory / f"{key_id}.secret"
        _write_secret(path, secret)
        keys.append(BridgeKey(key_id, secret, frozenset(permissions)))
        shown.append(DemoKey(key_id, tuple(p.value for p in permissions), path))
    return KeyRing(keys), shown


def bridge_keys(config: BridgeConfig, environ: Mapping[str, str]) -> KeyRing:
    """Read and check the keys ``config`` names; raise ``ConfigError`` naming the bad entry."""
    return load_keys(config.key_entries(), environ, where="bridge.keys")


def _tls(config: BridgeConfig) -> dict[str, Any]:
    if config.tls is None:
        return {}
    return {"ssl_certfile": str(config.tls.cert), "ssl_keyfile": str(config.tls.key)}


async def run_bridge(
    gateway: Gateway, config: BridgeConfig, keys: KeyRing, *, port: int | None = None,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the bridge over ``gateway`` on ``config.host`` and ``port`` (default ``config.port``) until
    cancelled; report the bound port."""
    view = LiveView(gateway)
    app = create_app(view, keys, window=config.window)
    try:
        await serve(app, config.host, config.port if port is None else port, task_status=task_status, **_tls(config))
    except ssl.SSLError as exc:  # pragma: no cover - a bad certificate is caught when loading
        raise OSError(f"bridge TLS: {exc}") from None
    finally:
        view.close()
