"""The channel layer's Redis hosts from `REDIS_CHANNEL_URLS` (comma-separated).

The pub/sub layer shards every group and channel over its hosts by a hash of the name, so
all processes must list the same hosts in the same order. Each entry is either a Redis URL
(`redis://host:6379/0`, `rediss://…`) or a Sentinel-managed master:
`sentinel://[:password@]host:26379[+host2:26379…]/<master name>[/db]`, handed to
channels-redis as its `master_name` + `sentinels` form.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


def channel_layer_hosts(value: str) -> list[Any]:
    """The `hosts` list for channels_redis from a comma-separated list of URLs."""
    entries = [part.strip() for part in value.split(",") if part.strip()]
    if not entries:
        raise ImproperlyConfigured("REDIS_CHANNEL_URLS names no host.")
    return [_host(entry) for entry in entries]


def _host(entry: str) -> Any:
    url = urlsplit(entry)
    if url.scheme in ("redis", "rediss", "unix"):
        return entry
    if url.scheme != "sentinel":
        raise ImproperlyConfigured(
            f"REDIS_CHANNEL_URLS: {entry!r} is neither redis://, rediss:// nor sentinel://."
        )
    netloc = url.netloc.rsplit("@", 1)
    password = unquote(netloc[0].split(":", 1)[-1]) if len(netloc) == 2 else None
    path = [p for p in url.path.split("/") if p]
    try:
        sentinels = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in netloc[-1].split("+")]
        master, db = path[0], int(path[1]) if len(path) > 1 else 0
    except (IndexError, ValueError):
        raise ImproperlyConfigured(
            f"REDIS_CHANNEL_URLS: {entry!r}: use sentinel://host:port[+host:port]/master[/db]."
        ) from None
    host: dict[str, Any] = {"master_name": master, "sentinels": sentinels, "db": db}
    if password:
        host["password"] = password
    return host
