"""Dataset import jobs: read CSVs from S3, check them like the service, store as parquet."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

from .errors import JobFailure
from .s3io import S3
from .schemas import Field

MIN_INTERACTIONS_PER_IMPORT = 1000
MAX_ID_LENGTH = 256
MILLISECONDS_THRESHOLD = 1e11  # epoch seconds stay below this until the year 5138
ID_COLUMNS = {"INTERACTIONS": None, "ITEMS": "ITEM_ID", "USERS": "USER_ID"}


class DatasetFiles:
    """Data per dataset, in three files: the bulk data imports wrote (parquet), the records
    imported individually (events API) up to the last import (parquet), and an append-only
    log of the individual records since (Arrow IPC streams, one per call), so a PutEvents
    costs the same at 2M rows as at 100k. Readers see all three; the next import folds the
    log into the individual records and replaces or extends only the bulk data."""

    def __init__(self, root: Path):
        self.root = root
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()
        self._cache: dict = {}

    def path(self, dataset_arn: str) -> Path:
        # dataset ARNs end in dataset/<group>/<TYPE>; names are filename-safe by pattern
        group, dtype = dataset_arn.split(":dataset/", 1)[1].split("/")
        return self.root / group / f"{dtype}.parquet"

    def individual_path(self, dataset_arn: str) -> Path:
        return self.path(dataset_arn).with_suffix(".individual.parquet")

    def log_path(self, dataset_arn: str) -> Path:
        return self.path(dataset_arn).with_suffix(".log.arrows")

    def _paths(self, dataset_arn: str) -> tuple[Path, Path, Path]:
        return self.path(dataset_arn), self.individual_path(dataset_arn), self.log_path(dataset_arn)

    def lock(self, dataset_arn: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(dataset_arn, threading.RLock())

    def bulk(self, dataset_arn: str) -> pd.DataFrame | None:
        """The records dataset import jobs wrote (what the next FULL import replaces)."""
        path = self.path(dataset_arn)
        return pd.read_parquet(path) if path.exists() else None

    def load(self, dataset_arn: str) -> pd.DataFrame | None:
        return self._load(dataset_arn)[0]

    def _load(self, dataset_arn: str) -> tuple[pd.DataFrame | None, int]:
        """(bulk + individual records, same-id items/users: newest wins; bytes of log read)."""
        with self.lock(dataset_arn):  # a consistent set: no half-written log, no import in between
            frames = [self.bulk(dataset_arn), self._individual(dataset_arn)]
            log = self.log_path(dataset_arn)
            raw = log.read_bytes() if log.exists() else b""
        frames = [f for f in frames + [_read_streams(raw) if raw else None] if f is not None]
        if not frames:
            return None, len(raw)
        combined = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return _newest_per_id(combined, dataset_arn), len(raw)

    def _individual(self, dataset_arn: str) -> pd.DataFrame | None:
        path = self.individual_path(dataset_arn)
        return pd.read_parquet(path) if path.exists() else None

    def _stamps(self, dataset_arn: str) -> tuple[tuple, int | None, int]:
        """(stamp of the files imports rewrite, the log's inode or None, bytes in the log)."""
        stamps, log_id, log_size = [], None, 0
        *rewritten, log = self._paths(dataset_arn)
        for path in rewritten:
            try:
                info = path.stat()
                stamps.append((info.st_mtime_ns, info.st_size))
            except FileNotFoundError:
                stamps.append(None)
        try:
            info = log.stat()  # append-only: its size tells what is new
            log_id, log_size = info.st_ino, info.st_size
        except FileNotFoundError:
            pass
        return tuple(stamps), log_id, log_size

    def cached(self, dataset_arn: str, derive=None, extend=None):
        """Read-only view for serving: ``derive(frame)`` (or the frame), reused until the data
        changes. With ``extend(view, appended)``, records appended since are applied to the
        view instead of deriving it again, so the cost follows the appended records only."""
        base, log_id, log_size = self._stamps(dataset_arn)
        if base == (None, None) and log_id is None:
            return None
        key = (dataset_arn, derive)
        with self._guard:
            hit = self._cache.get(key)
        if hit is not None and hit[:3] == (base, log_id, log_size):
            return hit[3]
        same_log = hit is not None and hit[1] in (None, log_id) and hit[2] < log_size
        if extend is not None and same_log and hit[0] == base:
            appended, log_size = self._log_since(dataset_arn, hit[2])
            value = extend(hit[3], appended) if appended is not None else hit[3]
        else:
            frame, log_size = self._load(dataset_arn)
            value = derive(frame) if derive is not None else frame
        with self._guard:
            current = self._cache.get(key)
            if current is None or current[:2] != (base, log_id) or current[2] <= log_size:
                self._cache[key] = (base, log_id, log_size, value)
        return value

    def _log_since(self, dataset_arn: str, offset: int) -> tuple[pd.DataFrame | None, int]:
        """The records appended after byte ``offset`` of the log, and the log's new size (None and
        ``offset`` when an import folded the log in meanwhile: the next read derives afresh)."""
        with self.lock(dataset_arn):
            try:
                with self.log_path(dataset_arn).open("rb") as log:
                    log.seek(offset)
                    raw = log.read()
            except FileNotFoundError:
                raw = b""
        return (_read_streams(raw) if raw else None), offset + len(raw)

    def save(self, dataset_arn: str, frame: pd.DataFrame, mode: str = "FULL") -> None:
        """Store what an import job read: FULL replaces the bulk data, INCREMENTAL adds to it;
        records imported individually stay either way, except same-id items/users the import
        replaces. "Specify FULL to overwrite all existing bulk data in your dataset. Data you
        imported individually is not replaced." (CreateDatasetImportJob, importMode; developer
        guide: https://docs.aws.amazon.com/personalize/latest/dg/updating-existing-bulk-data.html)"""
        with self.lock(dataset_arn):
            dataset_type = dataset_arn.rsplit("/", 1)[-1]
            bulk = merge(self.bulk(dataset_arn), frame, dataset_type, mode)
            individual = self._individual(dataset_arn)
            log = self.log_path(dataset_arn)
            if log.exists() and log.stat().st_size:
                logged = _read_streams(log.read_bytes())
                individual = logged if individual is None else pd.concat([individual, logged],
                                                                          ignore_index=True)
            id_column = ID_COLUMNS.get(dataset_type)
            if individual is not None and id_column:
                individual = individual[~individual[id_column].isin(frame[id_column])]
            self._write(self.path(dataset_arn), bulk)
            if individual is not None:
                self._write(self.individual_path(dataset_arn), individual.reset_index(drop=True))
            log.unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, frame: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)

    def append(self, dataset_arn: str, frame: pd.DataFrame) -> None:
        """Add records without rewriting the dataset: one Arrow stream on the end of the log."""
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        log = self.log_path(dataset_arn)
        log.parent.mkdir(parents=True, exist_ok=True)
        with self.lock(dataset_arn), log.open("ab") as out:
            out.write(sink.getvalue().to_pybytes())

    def remove(self, dataset_arn: str) -> None:
        with self.lock(dataset_arn):
            for path in self._paths(dataset_arn):
                path.unlink(missing_ok=True)


def _newest_per_id(frame: pd.DataFrame, dataset_arn: str) -> pd.DataFrame:
    id_column = ID_COLUMNS.get(dataset_arn.rsplit("/", 1)[-1])
    if not id_column:
        return frame
    return frame.drop_duplicates(subset=[id_column], keep="last").reset_index(drop=True)


def _read_streams(raw: bytes) -> pd.DataFrame:
    """The frames of back-to-back Arrow IPC streams, concatenated."""
    source = pa.BufferReader(raw)
    tables = []
    while source.tell() < len(raw):
        tables.append(ipc.open_stream(source).read_all())
    return pa.concat_tables(tables, promote_options="default").to_pandas()


def read_location(s3: S3, location: str, fields: list[Field]) -> pd.DataFrame:
    """All CSV files at ``location`` as one frame with the schema's columns and types."""
    try:
        keys = s3.keys_at(location)
    except ValueError:
        keys = []
    if not keys:
        raise JobFailure("Invalid Data location.")
    frames = [_read_csv(s3.read(b, k), f"s3://{b}/{k}", fields) for b, k in keys]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_csv(body: bytes, where: str, fields: list[Field]) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_values=[],
                          encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise JobFailure(f"Could not parse CSV file {where}: {exc}") from exc
    by_upper = {c.strip().upper(): c for c in raw.columns}
    missing = [f.name for f in fields if f.name.upper() not in by_upper and not f.nullable]
    if missing:
        raise JobFailure(f"Input CSV is missing the following columns: [{', '.join(missing)}]")
    # "The column headers in your CSV file need to map to the schema" (guide: Formatting your input
    # data): a column the schema does not name is a mistake the import reports, not data it drops.
    known = {f.name.upper() for f in fields}
    extra = [c for upper, c in by_upper.items() if upper not in known]
    if extra:
        raise JobFailure(f"Input CSV has columns that are not in the schema: [{', '.join(extra)}]")
    out = {}
    for field in fields:
        column = by_upper.get(field.name.upper())
        values = raw[column] if column is not None else pd.Series([""] * len(raw), dtype=str)
        out[field.name] = convert_column(values, field, where)
    return pd.DataFrame(out)


def convert_column(values: pd.Series, field: Field, where: str) -> pd.Series:
    empty = values.str.strip() == ""
    if empty.any() and not field.nullable:
        raise JobFailure(
            f"Column {field.name} in {where} has {int(empty.sum())} empty value(s) but is not nullable.")
    if field.type in ("int", "long", "float", "double"):
        numbers = pd.to_numeric(values.where(~empty), errors="coerce")
        bad = numbers.isna() & ~empty
        if bad.any():
            sample = values[bad].iloc[0]
            raise JobFailure(f"Column {field.name} in {where} has non-numeric value(s), e.g. {sample!r}.")
        if field.type in ("int", "long"):
            if (numbers.dropna() % 1 != 0).any():
                raise JobFailure(f"Column {field.name} in {where} must hold whole numbers.")
            return numbers.astype("Int64")
        return numbers.astype("float64")
    if field.type == "boolean":
        lowered = values.str.strip()
        bad = ~lowered.isin(["true", "false"]) & ~empty
        if bad.any():
            raise JobFailure(f"Column {field.name} in {where} must be lowercase true/false.")
        return lowered.map({"true": True, "false": False}).astype("boolean")
    return values.where(~empty, None).astype("string")


def validate(frame: pd.DataFrame, dataset_type: str) -> None:
    """The service's per-import data rules."""
    if dataset_type == "INTERACTIONS" and len(frame) < MIN_INTERACTIONS_PER_IMPORT:
        raise JobFailure(
            f"Input data has {len(frame)} interactions; an interactions import needs at least "
            f"{MIN_INTERACTIONS_PER_IMPORT} records.")
    for column in ("USER_ID", "ITEM_ID"):
        if column in frame:
            too_long = frame[column].str.len() > MAX_ID_LENGTH
            if too_long.any():
                raise JobFailure(
                    f"{column} values must be at most {MAX_ID_LENGTH} characters; "
                    f"{int(too_long.sum())} value(s) are longer.")
    for column in ("TIMESTAMP", "CREATION_TIMESTAMP"):
        if column in frame:
            stamps = frame[column].dropna()
            big = stamps > MILLISECONDS_THRESHOLD
            if big.any():
                raise JobFailure(
                    f"{column} values must be Unix epoch seconds; {int(big.sum())} value(s) look like "
                    f"milliseconds (e.g. {int(stamps[big].iloc[0])}).")
            if (stamps < 0).any():
                raise JobFailure(f"{column} values must not be negative.")


def merge(existing: pd.DataFrame | None, new: pd.DataFrame, dataset_type: str, mode: str) -> pd.DataFrame:
    """FULL replaces; INCREMENTAL appends, newer records replacing same-id ones for items/users."""
    if mode == "FULL" or existing is None or existing.empty:
        return new.reset_index(drop=True)
    new = new.reindex(columns=existing.columns) if set(new.columns) == set(existing.columns) else new
    combined = pd.concat([existing, new], ignore_index=True)
    id_column = ID_COLUMNS.get(dataset_type)
    if id_column:
        combined = combined.drop_duplicates(subset=[id_column], keep="last")
    return combined.reset_index(drop=True)
