"""The file store: where the files given with runs (wizard uploads, pushes) are kept, so that
every machine reads what any machine received.

A file is known by its **key**, its path relative to DATA_DIR (`pushes/<uuid>/<name>`,
`uploads/<uuid>/<owner>/<name>`). By default the store is DATA_DIR itself: nothing moves, the
embedded setup's only machine reads its own disk. With PLANPORT_FILE_STORE_URL set
(`s3://bucket/prefix`, any S3-compatible endpoint, through fsspec and s3fs), a file written
under DATA_DIR is also put in the bucket under the same key (`keep`), and a machine that does
not hold it downloads it to the same place under its own DATA_DIR before reading it
(`local`). Uploads and downloads stream in parts: memory stays flat in the file's size.

Credentials are never Planport settings: s3fs takes them from the standard AWS chain
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, an instance role), so none can leak
through Planport's configuration pages or logs.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from planport.domain.errors import FileStoreUnavailable
from planport.settings import Settings

# A bucket is listed to sweep it at most this often per process: listing costs a request per
# thousand objects, and the retention is counted in hours.
_SWEEP_EVERY_S = 600.0


class FileStoreError(FileStoreUnavailable):
    """The bucket could not be reached or refused an operation; the message says which
    operation and the error's kind, never a credential."""


@dataclass(frozen=True, slots=True)
class _Bucket:
    url: str  # s3://bucket/prefix, without a trailing slash
    endpoint_url: str
    region: str


class FileStore:
    """DATA_DIR, and the bucket of PLANPORT_FILE_STORE_URL when set. Thread-safe."""

    def __init__(self, data_dir: Path, bucket: _Bucket | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self._bucket = bucket
        self._fs: Any = None
        self._fs_pid = 0
        self._lock = threading.Lock()
        self._swept: dict[str, float] = {}

    @classmethod
    def of(cls, settings: Settings) -> FileStore:
        """The store these settings describe (one per process and settings)."""
        return _store(
            settings.data_dir.resolve(),
            settings.file_store_url.rstrip("/"),
            settings.file_store_endpoint_url,
            settings.file_store_region,
        )

    @property
    def remote(self) -> bool:
        """Whether files are also kept in a bucket (other machines can read them)."""
        return self._bucket is not None

    @property
    def where(self) -> str:
        """The store in words, for logs and `planport version`."""
        return self._bucket.url if self._bucket else str(self.data_dir)

    # ------------------------------------------------------------------ keys and paths

    def key_of(self, path: Path) -> str:
        """The key of a file under DATA_DIR. Raises ValueError for a file elsewhere."""
        return PurePosixPath(path.resolve().relative_to(self.data_dir)).as_posix()

    def path_of(self, key: str) -> Path:
        """Where the file `key` lives (or would be downloaded to) under DATA_DIR."""
        return self.data_dir / _checked(key)

    # ------------------------------------------------------------------ files

    def keep(self, path: Path) -> str:
        """Keep the file at `path` (under DATA_DIR) for every machine; returns its key. With a
        bucket the file is uploaded first (in parts), so a worker elsewhere finds it as soon
        as the run is queued. Raises FileStoreError when the bucket refuses it."""
        key = self.key_of(path)
        if self._bucket is not None:
            self._call(f"store {path.name}", lambda fs: fs.put_file(str(path), self._url(key)))
        return key

    def local(self, key: str) -> Path | None:
        """A local path holding the file `key`: the one under DATA_DIR when this machine has
        it, else a copy downloaded there from the bucket first; None when it is nowhere (swept
        after its retention, or never kept)."""
        path = self.path_of(key)
        if path.is_file():
            return path
        if self._bucket is None or not self.exists(key):
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        try:
            self._call(f"read {path.name}", lambda fs: fs.get_file(self._url(key), str(partial)))
            os.replace(partial, path)  # readers never see half a file
        finally:
            partial.unlink(missing_ok=True)
        return path

    def exists(self, key: str) -> bool:
        """Whether the file `key` is still kept (here or in the bucket)."""
        if self.path_of(key).is_file():
            return True
        if self._bucket is None:
            return False
        return bool(self._call("look up a file", lambda fs: fs.exists(self._url(key))))

    def first_under(self, prefix: str) -> str | None:
        """The key of the first file (by name) under the folder `prefix`, here or in the
        bucket; None when the folder holds none."""
        folder = self.path_of(prefix)
        found = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if found:
            return self.key_of(found[0])
        if self._bucket is None:
            return None
        names = self._call("list files", lambda fs: fs.find(self._url(prefix)))
        keys = sorted(self._key_of_url(name) for name in names)
        return keys[0] if keys else None

    def forget(self, prefix: str) -> None:
        """Delete the folder `prefix` here and in the bucket (a refused push leaves nothing)."""
        shutil.rmtree(self.path_of(prefix), ignore_errors=True)
        if self._bucket is not None:
            url = self._url(prefix)
            self._call(
                "delete files", lambda fs: fs.rm(url, recursive=True) if fs.exists(url) else None
            )

    def sweep(self, prefix: str, max_age_s: float) -> int:
        """Delete the folders directly under `prefix` whose files are all older than
        `max_age_s`, here and (at most every ten minutes per process) in the bucket. Returns
        how many folders went."""
        cutoff = time.time() - max_age_s
        removed = 0
        root = self.path_of(prefix)
        if root.is_dir():
            for folder in root.iterdir():
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        if self._bucket is not None and self._due(prefix):
            removed += self._sweep_bucket(prefix, cutoff)
        return removed

    # ------------------------------------------------------------------ the bucket

    def _due(self, prefix: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._swept.get(prefix, -_SWEEP_EVERY_S) < _SWEEP_EVERY_S:
                return False
            self._swept[prefix] = now
        return True

    def _sweep_bucket(self, prefix: str, cutoff: float) -> int:
        listed = self._call("list files", lambda fs: fs.find(self._url(prefix), detail=True))
        newest: dict[str, float] = defaultdict(float)
        for name, info in listed.items():
            parts = PurePosixPath(self._key_of_url(name)).relative_to(prefix).parts
            if len(parts) < 2:
                continue
            modified = info.get("LastModified")
            stamp = modified.timestamp() if modified is not None else time.time()
            newest[parts[0]] = max(newest[parts[0]], stamp)
        old = [self._url(f"{prefix}/{folder}") for folder, at in newest.items() if at < cutoff]
        if old:
            self._call("delete old files", lambda fs: fs.rm(old, recursive=True))
        return len(old)

    def _url(self, key: str) -> str:
        assert self._bucket is not None
        return f"{self._bucket.url}/{_checked(key)}"

    def _key_of_url(self, name: str) -> str:
        assert self._bucket is not None
        base = self._bucket.url.removeprefix("s3://")
        return name.removeprefix("s3://").removeprefix(base).lstrip("/")

    def _call(self, what: str, operation: Any) -> Any:
        try:
            return operation(self._filesystem())
        except FileNotFoundError:
            raise
        except Exception as error:
            # The class name and the bucket, not the message: a botocore message can quote a
            # request's signed headers.
            assert self._bucket is not None
            raise FileStoreError(
                f"The file store {self._bucket.url} could not {what} "
                f"({type(error).__name__}). Check PLANPORT_FILE_STORE_URL and the machine's "
                "AWS credentials."
            ) from None

    def _filesystem(self) -> Any:
        # One s3fs instance per process: its event loop thread does not survive a fork
        # (Celery's prefork workers), so a child makes its own.
        with self._lock:
            if self._fs is None or self._fs_pid != os.getpid():
                self._fs = _s3(self._bucket)
                self._fs_pid = os.getpid()
            return self._fs


def _s3(bucket: _Bucket | None) -> Any:
    import s3fs  # only where a bucket is configured: it pulls in aiobotocore

    assert bucket is not None
    client: dict[str, Any] = {}
    if bucket.endpoint_url:
        client["endpoint_url"] = bucket.endpoint_url
    if bucket.region:
        client["region_name"] = bucket.region
    # Bounded: a bucket that does not answer fails the operation in seconds (with botocore's
    # retries of a lost connection), not after minutes of s3fs's own retries on top.
    fs = s3fs.S3FileSystem(
        client_kwargs=client,
        config_kwargs={"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 3}},
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    fs.retries = 1  # s3fs's own retries, on top of botocore's
    return fs


def _checked(key: str) -> str:
    """`key` when it is a plain relative path; a key never leaves DATA_DIR or the prefix."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key:
        raise ValueError(f"not a file store key: {key!r}")
    return path.as_posix()


@lru_cache(maxsize=8)
def _store(data_dir: Path, url: str, endpoint_url: str, region: str) -> FileStore:
    if not url:
        return FileStore(data_dir)
    return FileStore(data_dir, _Bucket(url, endpoint_url, region))
