"""HTTP for the device: a python-tuf FetcherInterface for metadata (stdlib only, counts bytes and
requests), and a resumable Range download of target files into a partial file."""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tuf.api import exceptions as tuf_exceptions
from tuf.ngclient.fetcher import FetcherInterface

from ember.delivery.errors import DiskBudgetError, DownloadError, VerificationError

USER_AGENT = "ember-device/0.1"


@dataclasses.dataclass
class TransferStats:
    """What a client sent over the network: for the "no update" cost benchmark and tests."""

    requests: int = 0
    bytes_received: int = 0
    urls: list[str] = dataclasses.field(default_factory=list)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def add(self, url: str, nbytes: int = 0, request: bool = False) -> None:
        with self._lock:
            if request:
                self.requests += 1
                self.urls.append(url)
            self.bytes_received += nbytes


def _open(url: str, headers: dict[str, str], timeout: float):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(
        urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers}), timeout=timeout
    )


class HttpFetcher(FetcherInterface):
    """ngclient fetcher on urllib: no third-party HTTP stack on the device, no proxy surprises."""

    def __init__(
        self, timeout: float = 10.0, chunk_size: int = 64 * 1024, stats: TransferStats | None = None
    ):
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.stats = stats if stats is not None else TransferStats()

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.stats.add(url, request=True)
        try:
            resp = _open(url, {}, self.timeout)
        except urllib.error.HTTPError as exc:
            raise tuf_exceptions.DownloadHTTPError(f"GET {url}: HTTP {exc.code}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise tuf_exceptions.DownloadError(f"GET {url}: {exc}") from None
        return self._chunks(resp, url)

    def _chunks(self, resp, url: str) -> Iterator[bytes]:
        with resp:
            while True:
                try:
                    chunk = resp.read(self.chunk_size)
                except OSError as exc:
                    raise tuf_exceptions.SlowRetrievalError(f"GET {url}: {exc}") from None
                if not chunk:
                    return
                self.stats.add(url, len(chunk))
                yield chunk


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def download_resumable(
    url: str,
    part: Path,
    length: int,
    *,
    timeout: float = 10.0,
    chunk_size: int = 64 * 1024,
    stats: TransferStats | None = None,
) -> None:
    """Bring `part` to exactly `length` bytes from `url`, continuing from what it already holds with an
    HTTP Range request. Never writes more than `length` bytes (endless-data attack). The caller verifies
    the hashes against signed metadata before using the file."""
    stats = stats if stats is not None else TransferStats()
    have = part.stat().st_size if part.exists() else 0
    if have > length:
        part.unlink()
        have = 0
    if have == length:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    stats.add(url, request=True)
    try:
        resp = _open(url, headers, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # our partial file does not match the server's: start over
            part.unlink(missing_ok=True)
        raise DownloadError(
            f"GET {url} answered HTTP {exc.code}; expected 200 or 206. Check the server and retry."
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(
            f"cannot reach {url} ({exc}); the installed model stays active. Retry later."
        ) from None
    with resp:
        mode = "ab"
        if have and resp.status == 206:
            m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                raise DownloadError(
                    f"GET {url}: asked for bytes from {have}, server sent Content-Range "
                    f"{resp.headers.get('Content-Range')!r}; retry, the partial file is kept."
                )
        elif have:
            mode, have = "wb", 0  # server ignored the Range header: start from zero
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        chunk = resp.read(min(chunk_size, length - have + 1))
                    except OSError as exc:
                        raise DownloadError(
                            f"GET {url} broke off after {have} bytes ({exc}); retry resumes."
                        ) from None
                    if not chunk:
                        break
                    stats.add(url, len(chunk))
                    if have + len(chunk) > length:
                        f.close()
                        part.unlink(missing_ok=True)
                        raise VerificationError(
                            f"{url} sent more than the {length} bytes its signed metadata allows; the server "
                            "is misbehaving or under attack. Nothing was installed."
                        )
                    f.write(chunk)
                    have += len(chunk)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                part.unlink(missing_ok=True)
                raise DiskBudgetError(
                    f"the disk filled up while downloading {url} ({exc.strerror}); the partial file was "
                    "removed and the installed model is untouched. Free space and retry."
                ) from None
            raise
    if have != length:
        raise DownloadError(
            f"{url} ended after {have} of {length} bytes; the partial file is kept and the next try resumes."
        )
