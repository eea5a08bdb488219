"""TLS contexts for FIX acceptors and initiators (the standard library's ``ssl``)."""

from __future__ import annotations

import os
import ssl

from ..errors import ConfigError

__all__ = ["server_tls_context", "client_tls_context"]

PathLike = str | os.PathLike[str]


def server_tls_context(
    certfile: PathLike,
    keyfile: PathLike | None = None,
    *,
    client_ca: PathLike | None = None,
    require_client_cert: bool = False,
    password: str | None = None,
) -> ssl.SSLContext:
    """Return a server context presenting ``certfile``/``keyfile`` (TLS 1.2 or newer).

    With ``client_ca`` the client's certificate is verified against it; ``require_client_cert``
    refuses clients that present none (mutual TLS).
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certfile, keyfile, password=password)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls.certfile", f"cannot load {certfile}: {exc}") from exc
    if require_client_cert and client_ca is None:
        raise ConfigError("tls.client_ca", "required to verify client certificates")
    if client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=os.fspath(client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("tls.client_ca", f"cannot load {client_ca}: {exc}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_tls_context(
    *,
    cafile: PathLike | None = None,
    certfile: PathLike | None = None,
    keyfile: PathLike | None = None,
    check_hostname: bool = True,
    password: str | None = None,
) -> ssl.SSLContext:
    """Return a client context verifying the server against ``cafile`` (system roots when None).

    ``certfile``/``keyfile`` present a client certificate when the acceptor asks for one.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile is not None:
        try:
            ctx.load_verify_locations(cafile=os.fspath(cafile))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("tls.cafile", f"cannot load {cafile}: {exc}") from exc
    if certfile is not None:
        try:
            ctx.load_cert_chain(certfile, keyfile, password=password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("tls.certfile", f"cannot load {certfile}: {exc}") from exc
    ctx.check_hostname = check_hostname
    return ctx
