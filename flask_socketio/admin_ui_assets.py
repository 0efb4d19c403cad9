"""The Admin UI's files without Node: ``python -m flask_socketio.admin_ui_assets download [DIR]``.

``instrument(ui_path=...)`` serves the built UI of the npm package ``@socket.io/admin-ui``
(its ``ui/dist``). A ``pip install`` user has no ``node_modules``; this command fetches the
package's metadata from the npm registry, downloads the tarball it names, checks the tarball
against the metadata's ``dist.integrity`` (a Subresource Integrity ``sha512-...`` hash) before
anything is written, and unpacks ``ui/dist`` into ``DIR`` (default: the cache directory that
`socketio_core.features.admin.default_ui_dir` looks in, so ``ui_path`` then finds the files by itself).

The registry is ``--registry``, else npm's own ``npm_config_registry`` environment variable,
else the public npm registry.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from socketio_core.features.admin import ui_cache_dir

PACKAGE = "@socket.io/admin-ui"
VERSION = "0.5.1"  # the version the Admin UI tests run against (package.json)
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
_DIST = "package/ui/dist/"
_TIMEOUT = 60.0
_MAX_TARBALL = 50 * 1024 * 1024


class AssetError(Exception):
    """The download could not be completed or verified; nothing was installed."""


@dataclass(frozen=True, slots=True)
class Release:
    """One version of the package as the registry describes it."""

    version: str
    tarball: str
    integrity: str


def registry_url(registry: str | None = None) -> str:
    url = registry or os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY")
    url = url or DEFAULT_REGISTRY
    return url if url.endswith("/") else url + "/"


def _get(url: str, limit: int, accept: str = "*/*") -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise AssetError(f"refusing to fetch {url!r}: not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as resp:  # noqa: S310 (scheme checked)
            data: bytes = resp.read(limit + 1)
    except OSError as exc:
        raise AssetError(f"could not fetch {url}: {exc}") from None
    if len(data) > limit:
        raise AssetError(f"{url} is larger than {limit} bytes")
    return data


def find_release(registry: str, version: str = VERSION) -> Release:
    """The tarball URL and integrity hash of `version` (or a dist-tag such as ``latest``)."""
    url = registry + urllib.parse.quote(PACKAGE, safe="@")
    try:
        # npm's abbreviated metadata (what `npm install` reads) carries dist.integrity too.
        meta: Any = json.loads(_get(url, _MAX_TARBALL, "application/vnd.npm.install-v1+json, application/json"))
        version = meta.get("dist-tags", {}).get(version, version)
        dist = meta["versions"][version]["dist"]
        return Release(version, str(dist["tarball"]), str(dist["integrity"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AssetError(f"the registry at {registry} has no {PACKAGE}@{version} with an integrity hash") from None


def verify(data: bytes, integrity: str) -> None:
    """Raise unless `data` matches a ``sha512-<base64>`` entry of the SRI string `integrity`."""
    expected = [entry[len("sha512-"):] for entry in integrity.split() if entry.startswith("sha512-")]
    if not expected:
        raise AssetError(f"no sha512 hash in the integrity value {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual not in expected:
        raise AssetError(f"integrity check failed: the tarball's sha512 is {actual}, the registry says "
                         f"{' or '.join(expected)}")


def unpack(data: bytes, target: str) -> str:
    """Unpack the package's ``ui/dist`` into `target`/ui/dist (replacing an older copy);
    returns that directory. Only regular files and directories inside ``ui/dist`` are taken."""
    dist = os.path.join(target, "ui", "dist")
    os.makedirs(target, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".admin-ui-", dir=target)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member.name
                if not name.startswith(_DIST) or not (member.isfile() or member.isdir()):
                    continue
                relative = os.path.normpath(name[len(_DIST):])
                if relative.startswith(("..", "/")) or os.path.isabs(relative):
                    raise AssetError(f"unsafe path in the tarball: {name!r}")
                path = os.path.join(staging, relative)
                if member.isdir():
                    os.makedirs(path, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, open(path, "wb") as out:
                    shutil.copyfileobj(source, out)
        if not os.path.isfile(os.path.join(staging, "index.html")):
            raise AssetError(f"the tarball has no {_DIST}index.html")
        shutil.rmtree(dist, ignore_errors=True)
        os.makedirs(os.path.dirname(dist), exist_ok=True)
        os.replace(staging, dist)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise AssetError(f"could not unpack the tarball: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dist


def download(target: str | None = None, version: str = VERSION, registry: str | None = None) -> str:
    """Fetch, verify and unpack the Admin UI; returns the ``ui/dist`` directory for ``ui_dir=``."""
    release = find_release(registry_url(registry), version)
    data = _get(release.tarball, _MAX_TARBALL)
    verify(data, release.integrity)
    return unpack(data, target or ui_cache_dir())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flask_socketio.admin_ui_assets",
                                     description="Get the Socket.IO Admin UI's files without Node.")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help=f"download {PACKAGE} from the npm registry and verify it")
    get.add_argument("dir", nargs="?", default=None, help=f"where to unpack (default: {ui_cache_dir()})")
    get.add_argument("--version", default=VERSION, help=f"a version or dist-tag (default: {VERSION})")
    get.add_argument("--registry", default=None, help="the npm registry URL (default: $npm_config_registry, "
                                                      "else the public registry)")
    args = parser.parse_args(argv)
    try:
        dist = download(args.dir, args.version, args.registry)
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(dist)
    return 0


if __name__ == "__main__":
    sys.exit(main())
