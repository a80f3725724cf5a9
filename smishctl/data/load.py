"""Read a table of (text, label) rows from a file or the Hugging Face hub, through HF `datasets`."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smishctl.core.errors import DataError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}
MAX_LABELS = 50  # distinct values a classification label column plausibly has
DEFAULT_MAX_ROWS = 2_000_000  # Parquet: rows, since compressed bytes say little about what loading costs


@dataclass(frozen=True)
class TableSource:
    """How to read one table. `path` for local files, `hub_id` for the Hugging Face hub."""

    path: Path | None = None
    hub_id: str | None = None
    format: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    header: bool = True
    encoding: str = "utf-8"
    hub_split: str = "train"


def decode_utf8(data: bytes, where: str) -> str:
    """Text of a small user file (must-pass set, feedback export, classify input); one clear error
    naming the first bad byte otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        hint="re-save it as UTF-8 (e.g. iconv -f cp1252 -t utf-8)") from None


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot tell the format of {path.name}",
            hint="use a .csv, .tsv, .json, .jsonl or .parquet file, or pass --format",
        )
    return fmt


def check_size(path: Path, max_bytes: int) -> int:
    """Refuse a file above the limit from its size alone, before any byte of it is read (or hashed)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(
            f"{path.name} is {size / 2**20:.0f} MiB, above the {max_bytes / 2**20:.0f} MiB limit",
            hint="raise [data].max_file_mib or SMISHCTL_MAX_FILE_MIB if this is intended",
        )
    return size


def max_rows() -> int:
    return int(os.environ.get("SMISHCTL_MAX_ROWS") or DEFAULT_MAX_ROWS)


def _check_parquet(path: Path, max_bytes: int, columns: tuple[str, ...]) -> None:
    """A small compressed Parquet file can expand far past the byte limit when loaded. Bound its rows
    (from the footer) and the bytes of the columns we load, counted batch by batch so that the check
    itself never holds more than one batch."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot parse {path.name} as parquet: {first}", hint="check the file's format") from None
    limit = max_rows()
    if pf.metadata.num_rows > limit:
        raise DataError(f"{path.name} has {pf.metadata.num_rows:,} rows, above the {limit:,} row limit",
                        hint="sample it first, or raise SMISHCTL_MAX_ROWS if this is intended")
    wanted = [c for c in columns if c in pf.schema_arrow.names]
    expanded = 0
    for batch in pf.iter_batches(batch_size=8192, columns=wanted):
        expanded += batch.nbytes
        if expanded > max_bytes:
            raise DataError(
                f"{path.name} expands to more than {max_bytes / 2**20:.0f} MiB when loaded (the MiB limit "
                f"applies to the data, not its compressed size)",
                hint="raise [data].max_file_mib or SMISHCTL_MAX_FILE_MIB if this is intended")


def check_file(path: Path, fmt: str, encoding: str, max_bytes: int, columns: tuple[str, ...] = ()) -> None:
    if not path.is_file():
        raise DataError(f"dataset file not found: {path}", hint="check the path or use a registry name")
    size = check_size(path, max_bytes)
    if size == 0:
        raise DataError(f"{path.name} is empty")
    if fmt == "parquet":
        _check_parquet(path, max_bytes, columns)
        return
    # Decode ourselves first: pandas' error for bad bytes is a long traceback without the offset.
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name} is not valid {encoding}: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            hint="re-save it as UTF-8 or pass --encoding (e.g. cp1252)",
        ) from None
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None


def _hf_load(builder: str, **kwargs):
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets.load_dataset(builder, split="train", **kwargs)


def read_rows(source: TableSource, *, cache_dir: Path, max_bytes: int) -> list[dict]:
    """Rows as {"text": str|None, "label": str|None, "row": int} in file order."""
    if source.hub_id:
        return _read_hub(source, cache_dir)
    assert source.path is not None  # a source is a hub id or a file
    path = Path(source.path)
    fmt = source.format or detect_format(path)
    check_file(path, fmt, source.encoding, max_bytes, (source.text_column, source.label_column))
    common = {"data_files": str(path), "cache_dir": str(cache_dir)}
    try:
        if fmt in ("csv", "tsv"):
            options: dict[str, Any] = dict(
                sep="\t" if fmt == "tsv" else ",",
                keep_default_na=False,
                na_filter=False,
                encoding=source.encoding,
            )
            if fmt == "tsv":
                options["quoting"] = csv.QUOTE_NONE  # SMS texts contain unbalanced quotes
            if not source.header:
                options.update(header=None, column_names=[source.label_column, source.text_column])
            ds = _hf_load("csv", **common, **options)
        elif fmt in ("json", "jsonl"):
            ds = _hf_load("json", **common)
        elif fmt == "parquet":
            ds = _hf_load("parquet", **common)
        else:
            raise DataError(f"unsupported format {fmt!r}", hint="use csv, tsv, json, jsonl or parquet")
    except DataError:
        raise
    except Exception as exc:  # pandas/pyarrow parse errors: keep the first line only
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot parse {path.name} as {fmt}: {first}", hint="check the file's format") from None
    return _columns(ds, source, path.name)


def _read_hub(source: TableSource, cache_dir: Path) -> list[dict]:
    """A Hugging Face hub dataset id. Needs internet (or a populated HF cache)."""
    os.environ.pop("HF_HUB_OFFLINE", None)
    try:
        import datasets

        ds = datasets.load_dataset(source.hub_id, split=source.hub_split, cache_dir=str(cache_dir))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load hub dataset {source.hub_id!r}: {first}",
            hint="hub datasets need internet access; or download it and pass the file",
        ) from None
    return _columns(ds, source, str(source.hub_id))


def _columns(ds, source: TableSource, name: str) -> list[dict]:
    missing = [c for c in (source.text_column, source.label_column) if c not in ds.column_names]
    if missing:
        raise DataError(
            f"{name} has no column {missing[0]!r} (columns: {', '.join(ds.column_names)})",
            hint="pass --text-column / --label-column",
        )
    feature = ds.features[source.label_column]
    names = getattr(feature, "names", None)  # ClassLabel: ints -> names
    # Whole Arrow columns: `ds[column]` is a lazy column in datasets 5 that formats one row at a time
    # (about 1 s for the default dataset, on every load).
    texts = ds.data.column(source.text_column).to_pylist()
    labels = ds.data.column(source.label_column).to_pylist()
    _check_label_column(labels, source.label_column, name)
    rows = []
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        if names is not None and isinstance(label, int):
            label = names[label]
        rows.append({"text": text, "label": label, "row": i + (2 if source.header else 1)})
    return rows


def _check_label_column(labels: list, column: str, name: str) -> None:
    """Refuse a label column that cannot be one: too many distinct values, or values that read like
    messages (a swapped --text-column/--label-column would otherwise make thousands of "classes")."""
    distinct = {str(v).strip() for v in labels if v is not None and str(v).strip()}
    wordy = [v for v in distinct if len(v) > 40 or len(v.split()) > 4]
    if len(distinct) > MAX_LABELS or (wordy and len(wordy) * 2 >= len(distinct)):
        example = max(distinct, key=len)[:60]
        raise DataError(
            f"{name}: column {column!r} does not look like a label column ({len(distinct):,} distinct values, "
            f"e.g. {example!r})",
            hint="pass the column holding the class (ham, spam, ...) with --label-column, the SMS with --text-column")
