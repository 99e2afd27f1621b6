"""
S3 that survives restarts: a write-through copy of moto's buckets under the endpoint's data dir.

moto keeps S3 in memory, while the Personalize state is on disk: a restarted endpoint had
datasets, jobs and versions but no bucket or export behind them. After every request that can
change S3 (PUT, POST, DELETE) and before its response leaves, the changed objects are written to
``<data dir>/s3/<bucket>/<key path>`` (atomically: temporary file, then rename) and deleted ones
removed, so even a SIGKILL loses nothing acknowledged. At start-up every file is put back.

Kept: buckets, keys, object bytes. Not kept: ETags of multipart objects (a restored object's
ETag is its MD5), content types and metadata, versions, in-progress multipart uploads.

Key paths: each ``/``-separated segment is percent-encoded; an object's file name ends with ``%``
(which encoding never leaves bare), so an object ``a`` and an object ``a/b`` coexist, and the
segments ``""``, ``.`` and ``..`` become ``%00``, ``%2E`` and ``%2E%2E``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote, unquote

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

REGION = "us-east-1"
WRITE_METHODS = {"PUT", "POST", "DELETE"}


def _segment(text: str) -> str:
    encoded = quote(text, safe="")
    return {"": "%00", ".": "%2E", "..": "%2E%2E"}.get(encoded, encoded)


def key_path(key: str) -> Path:
    """Relative file path of object ``key`` (see the module's notes)."""
    *folders, name = key.split("/")
    return Path(*[_segment(f) for f in folders], quote(name, safe="") + "%")


def path_key(relative: Path) -> str:
    *folders, name = relative.parts
    return "/".join([*(unquote(f) if f != "%00" else "" for f in folders), unquote(name[:-1])])


class PersistentS3:
    """WSGI middleware around moto's app that mirrors its S3 objects into ``root``."""

    def __init__(self, app, root: Path, account_id: str = DEFAULT_ACCOUNT_ID):
        self.app = app
        self.root = Path(root)
        self.account_id = account_id
        self._saved: dict[tuple[str, str], str] = {}  # (bucket, key) -> ETag on disk
        self._lock = threading.Lock()

    @property
    def backend(self):
        return s3_backends[self.account_id]["aws"]

    def __call__(self, environ, start_response):
        response = self.app(environ, start_response)  # moto has finished the change by now
        if environ.get("REQUEST_METHOD") in WRITE_METHODS:
            self.save()
        return response

    def restore(self) -> int:
        """Put every stored bucket and object back into moto; returns the object count."""
        self.root.mkdir(parents=True, exist_ok=True)
        restored = 0
        with self._lock:
            for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
                if folder.name not in self.backend.buckets:
                    self.backend.create_bucket(folder.name, REGION)
                for file in sorted(p for p in folder.rglob("*%") if p.is_file()):
                    key = path_key(file.relative_to(folder))
                    stored = self.backend.put_object(folder.name, key, file.read_bytes())
                    self._saved[(folder.name, key)] = stored.etag
                    restored += 1
        return restored

    def save(self) -> None:
        """Write the objects that changed since the last save, remove deleted objects and buckets."""
        with self._lock:
            live: dict[tuple[str, str], object] = {}
            for name, bucket in list(self.backend.buckets.items()):
                (self.root / name).mkdir(parents=True, exist_ok=True)
                for key, obj in list(bucket.keys.items()):
                    live[(name, key)] = obj
            for (bucket, key), obj in live.items():
                if self._saved.get((bucket, key)) != obj.etag:
                    _write_atomically(self.root / bucket / key_path(key), obj.value)
                    self._saved[(bucket, key)] = obj.etag
            for bucket, key in set(self._saved) - set(live):
                with contextlib.suppress(FileNotFoundError):
                    (self.root / bucket / key_path(key)).unlink()
                del self._saved[(bucket, key)]
            buckets = {bucket for bucket, _ in live} | set(self.backend.buckets)
            for folder in self.root.iterdir():
                if folder.is_dir() and folder.name not in buckets:
                    _remove_tree(folder)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _remove_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
