"""Document locations (``file://``, ``http(s)://``, ``s3://``) and the rules they must obey.

:func:`parse_location` is the static check used when a job is submitted (syntax, file roots,
literal addresses): a bad location is refused at once with 422. Fetchers check again when they
read, because a host name is only resolved then (see :mod:`docserve.api.documents.network`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from docserve.contract.errors import DocumentError, DocumentNotFoundError, LocationRefusedError

SCHEMES = ("file", "http", "https", "s3")
# S3's bucket naming rules; a name outside them is refused by S3 itself (and never will not be).
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Location:
    url: str
    scheme: str
    host: str = ""  # http(s): host name or address; s3: bucket
    path: str = ""  # file: absolute path; s3: key


def parse_location(url: str, file_roots: Sequence[Path], allow_private_hosts: bool) -> Location:
    """Validate ``url``; raise :class:`DocumentError` / :class:`LocationRefusedError` with why."""
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname  # parsing the host part can fail too: "http://[::1"
        _ = parts.port  # ... and the port: "http://host:99999"
    except ValueError as error:
        raise DocumentError(f"location is not a valid URL ({error}): {url!r}") from error
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise DocumentError(f"location scheme must be one of {', '.join(SCHEMES)}; got {url!r}")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DocumentError(f"file:// locations must be local paths, got host {parts.netloc!r}")
        path = unquote(parts.path)
        resolve_file(path, file_roots)
        return Location(url=url, scheme=scheme, path=path)
    if scheme == "s3":
        key = parts.path.lstrip("/")
        if not parts.netloc or not key:
            raise DocumentError(f"s3 locations look like s3://bucket/key; got {url!r}")
        if not _S3_BUCKET.match(parts.netloc):
            raise DocumentError(
                f"{parts.netloc!r} is not an S3 bucket name (3-63 characters: a-z 0-9 . -, "
                "starting and ending with a letter or digit)"
            )
        return Location(url=url, scheme=scheme, host=parts.netloc, path=unquote(key))
    if not hostname:
        raise DocumentError(f"http(s) location without a host: {url!r}")
    if parts.username or parts.password:
        raise DocumentError("credentials inside a location URL are not accepted")
    check_literal_address(hostname, allow_private_hosts)
    _check_client_parses(url)
    return Location(url=url, scheme=scheme, host=hostname)


def _check_client_parses(url: str) -> None:
    """The HTTP client that will connect (httpx) reads ``url`` as this http(s) URL with a host.

    It parses more strictly than ``urlsplit``: ``http://0177.0.0.1/`` is no IPv4 address to it
    (``InvalidURL``), `` http://host/`` a relative path. Such a URL could never be fetched or
    called back; it is refused now, not retried by a worker or a callback sender forever.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise DocumentError(f"location is not a valid URL ({error}): {url!r}") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise DocumentError(f"location is not a valid http(s) URL: {url!r}")


def resolve_file(path: str, roots: Sequence[Path]) -> Path:
    """The real path of ``path`` if it lies under one of ``roots`` (``..`` and symlinks resolved)."""
    if not path.startswith("/"):
        raise DocumentError(f"file:// locations need an absolute path, got {path!r}")
    if "\x00" in path:  # no file system path holds one; Path.resolve would raise ValueError
        raise LocationRefusedError(f"file location {path!r} contains a NUL byte")
    candidate = Path(path)
    try:
        real = candidate.resolve(strict=True)
    except FileNotFoundError as error:
        _refuse_outside(_resolved(candidate), roots)
        raise DocumentNotFoundError(f"no file at {path}") from error
    except (OSError, RuntimeError) as error:  # name too long, symlink loop, permission denied
        raise LocationRefusedError(f"file location {path!r} cannot be resolved: {error}") from error
    _refuse_outside(real, roots)
    if not real.is_file():
        raise DocumentNotFoundError(f"{path} is not a regular file")
    return real


def _resolved(path: Path) -> Path:
    """``path`` with ``..`` and the symlinks that exist resolved (it need not exist itself)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as error:
        raise LocationRefusedError(f"file location {str(path)!r} cannot be resolved: {error}") from error


def _refuse_outside(real: Path, roots: Sequence[Path]) -> None:
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        allowed = ", ".join(str(root) for root in roots) or "(none configured)"
        raise LocationRefusedError(
            f"file location resolves to {real}, outside the allowed roots ({allowed}); "
            "set DOCSERVE_FILE_ROOTS to allow a folder"
        )


def is_forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local (cloud metadata), multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_address(host: str, address: str, allow_private_hosts: bool) -> None:
    if allow_private_hosts:
        return
    if is_forbidden_address(ipaddress.ip_address(address)):
        raise LocationRefusedError(
            f"host {host!r} is (or resolves to) {address}, a loopback/private/link-local address; "
            "docserve does not fetch from internal networks (DOCSERVE_ALLOW_PRIVATE_HOSTS)"
        )


def check_literal_address(host: str, allow_private_hosts: bool) -> None:
    """Refuse ``http://10.0.0.1/`` at submission; names are checked when resolved."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        check_address(host, "127.0.0.1", allow_private_hosts)
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    check_address(host, host, allow_private_hosts)
