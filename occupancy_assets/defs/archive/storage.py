"""Where archived months live: a local folder or S3, behind one small interface."""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

from occupancy_assets.defs.archive.months import PARQUET_NAME, SILVER_TABLE, ArchiveError, parse_month

# -- where archives live ---------------------------------------------------------------------------


def object_key(schema_prefix: str, month: str) -> str:
    """Path of a month's object under the archive root (Hive-style month=YYYY-MM folder)."""
    parse_month(month)
    return f"{schema_prefix}silver/{SILVER_TABLE}/month={month}/{PARQUET_NAME}"


class ArchiveStore(ABC):
    """Where Parquet objects go: a local folder or an S3 prefix."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def put(self, local_path: Path, key: str) -> int:
        """Store a local file under `key` (replacing it whole); returns the stored object's size."""

    @abstractmethod
    def fetch(self, key: str, workdir: Path) -> Path:
        """A local path holding the stored object's bytes (as stored, not a cached copy)."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size of the stored object, None if there is none."""


class LocalArchiveStore(ArchiveStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalArchiveStore({str(self.root)!r})"

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def put(self, local_path: Path, key: str) -> int:
        dest = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        try:
            shutil.copyfile(local_path, partial)
            with open(partial, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, dest)  # atomic: readers see the old or the new object, never half of one
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk or an interrupt leaves no half-written file behind
            raise
        return dest.stat().st_size

    def fetch(self, key: str, workdir: Path) -> Path:
        path = self.root / key
        if not path.exists():
            raise ArchiveError(f"archive object {path} does not exist")
        return path

    def size(self, key: str) -> int | None:
        path = self.root / key
        return path.stat().st_size if path.exists() else None


class S3ArchiveStore(ArchiveStore):
    """An S3 bucket + prefix, through a boto3 client (dagster-aws S3Resource.get_client())."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def __repr__(self) -> str:
        return f"S3ArchiveStore('s3://{self.bucket}/{self.prefix}')"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put(self, local_path: Path, key: str) -> int:
        self.client.upload_file(str(local_path), self.bucket, self._key(key))
        size = self.size(key)
        if size is None:
            raise ArchiveError(f"{self.uri(key)} is missing right after its upload")
        return size

    def fetch(self, key: str, workdir: Path) -> Path:
        local = workdir / f"fetched-{PARQUET_NAME}"
        try:
            self.client.download_file(self.bucket, self._key(key), str(local))
        except Exception as err:  # noqa: BLE001 - botocore's ClientError and friends
            raise ArchiveError(f"cannot read {self.uri(key)}: {err}") from err
        return local

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except Exception as err:  # noqa: BLE001
            code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
