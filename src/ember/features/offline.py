"""Offline engine: the same FeatureSpec over an event log table, with DuckDB, for training.

`compute_features(spec, events, queries)` gives, for every query row (entity, at), the features
the device would have served at that moment: only events with ``ts <= at`` count (point-in-time
correct, no leakage from the future), windows are ``at - w < ts <= at`` in integer microseconds,
``last`` ties are broken by ``seq`` (logging order). Attribute filters and distinct keys use the
very functions the device uses (`ember.features.spec.matches`, `distinct_key`); the time-range
joins and aggregations run in DuckDB.

The event table (pandas DataFrame or a Parquet path) has columns event, entity, value and either
ts_us (int µs) or ts (float seconds or datetime64); optional attrs (dict or JSON text) and seq.
`FeatureStore.to_pandas()` / `ember features export` write exactly this table.

Needs duckdb and pandas (`pip install ember[features]`), imported on first use.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ember.features.errors import FeatureStoreError
from ember.features.spec import FeatureSpec, distinct_key, matches, to_micros

_NUMERIC = ("count", "sum", "mean", "min", "max")


def _deps() -> tuple[Any, Any]:
    try:
        import duckdb
        import pandas as pd
    except ImportError as exc:
        raise FeatureStoreError(
            f"the offline feature engine needs duckdb and pandas ({exc.name} is missing); "
            f"install them with: pip install 'ember[features]'"
        ) from None
    return duckdb, pd


def _micros(df: Any, us_col: str, col: str, what: str) -> np.ndarray:
    """Int64 µs from `us_col`, or from seconds / datetime64 in `col` (same rounding as the device)."""
    _, pd = _deps()
    if us_col in df.columns:
        return df[us_col].to_numpy(dtype=np.int64)
    if col not in df.columns:
        raise FeatureStoreError(f"{what} needs a '{us_col}' (int µs) or '{col}' (seconds or datetime) column")
    s = df[col]
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s.astype("datetime64[us]").astype(np.int64).to_numpy()
    x = s.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise FeatureStoreError(f"{what}: column '{col}' has non-finite timestamps; drop or fix those rows")
    return np.rint(x * 1e6).astype(np.int64)  # == to_micros() elementwise


def _attrs(col: Any) -> list[dict | None]:
    out: list[dict | None] = []
    for a in col:
        if a is None or (isinstance(a, float) and np.isnan(a)):
            out.append(None)
        elif isinstance(a, str):
            out.append(json.loads(a) if a else None)
        elif isinstance(a, dict):
            out.append(a)
        else:
            raise FeatureStoreError(f"attrs must be dicts or JSON text, found {type(a).__name__} {a!r}")
    return out


def load_events(events: Any) -> Any:
    """Normalize an event table (DataFrame or Parquet path) to seq, event, entity, ts_us, value, attrs."""
    _, pd = _deps()
    if isinstance(events, str | os.PathLike):
        events = pd.read_parquet(events)
    missing = [c for c in ("event", "entity", "value") if c not in events.columns]
    if missing:
        raise FeatureStoreError(
            f"event table is missing columns {missing}; expected event, entity, value, ts or ts_us "
            f"(and optionally attrs, seq) — as written by FeatureStore.to_pandas()"
        )
    n = len(events)
    return pd.DataFrame(
        {
            "seq": events["seq"].to_numpy(dtype=np.int64) if "seq" in events.columns else np.arange(n),
            "event": events["event"].astype(str).to_numpy(),
            "entity": events["entity"].astype(str).to_numpy(),
            "ts_us": _micros(events, "ts_us", "ts", "event table"),
            "value": events["value"].to_numpy(dtype=np.float64),
            "attrs": _attrs(events["attrs"]) if "attrs" in events.columns else [None] * n,
        }
    )


def compute_features(spec: FeatureSpec, events: Any, queries: Any) -> Any:
    """One row per query (entity, at / at_us, other columns kept) plus a float32 column per spec column."""
    _, pd = _deps()
    matrix = vectors(spec, events, queries)
    out = queries.reset_index(drop=True).copy()
    feats = pd.DataFrame(matrix, columns=spec.columns)
    return pd.concat([out, feats], axis=1)


def vectors(spec: FeatureSpec, events: Any, queries: Any) -> np.ndarray:
    """The (len(queries), spec.dim) float32 matrix of feature vectors, point-in-time correct."""
    duckdb, pd = _deps()
    ev = load_events(events)
    if "entity" not in queries.columns:
        raise FeatureStoreError(
            "queries need an 'entity' column and an 'at' (seconds/datetime) or 'at_us' column"
        )
    q = pd.DataFrame(
        {
            "qid": np.arange(len(queries), dtype=np.int64),
            "entity": queries["entity"].astype(str).to_numpy(),
            "at_us": _micros(queries, "at_us", "at", "queries"),
        }
    )
    con = duckdb.connect()
    try:
        con.register("q", q)
        streams: dict[tuple, str] = {}
        for f in spec.features:
            if f.stream in streams:
                continue
            name = f"s{len(streams)}"
            sub = ev[ev["event"].to_numpy() == f.event]
            if f.where:
                sub = sub[[matches(a, f.where) for a in sub["attrs"]]]
            table = sub[["seq", "entity", "ts_us", "value"]].copy()
            if f.agg == "count_distinct":
                keys = [
                    distinct_key(f.key, e, v, a)
                    for e, v, a in zip(sub["entity"], sub["value"], sub["attrs"], strict=False)
                ]
                table["k"] = pd.array(keys, dtype="string")
                table = table[table["k"].notna()]
            con.register(name, table)
            streams[f.stream] = name
        cols: list[np.ndarray] = []
        for f in spec.features:
            cols.append(_feature(con, f, streams[f.stream], len(q)))
        return np.concatenate(cols, axis=1).astype(np.float32) if cols else np.zeros((len(q), 0), np.float32)
    finally:
        con.close()


def _join(f: Any, table: str) -> str:
    cond = ["e.ts_us <= q.at_us"]
    if f.scope == "entity":
        cond.append("e.entity = q.entity")
    if f.window_us is not None:
        cond.append(f"e.ts_us > q.at_us - {int(f.window_us)}")
    return f"q JOIN {table} e ON " + " AND ".join(cond)


def _feature(con: Any, f: Any, table: str, n: int) -> np.ndarray:
    out = np.full((n, f.width), f.default, dtype=np.float64)
    if f.agg in ("last", "last_n"):
        rows = con.execute(
            f"SELECT qid, value, rn - 1 AS slot FROM (SELECT q.qid, e.value, row_number() OVER "
            f"(PARTITION BY q.qid ORDER BY e.ts_us DESC, e.seq DESC) AS rn FROM {_join(f, table)}) "
            f"WHERE rn <= {f.width}"
        ).fetchnumpy()
        out[rows["qid"].astype(np.int64), rows["slot"].astype(np.int64)] = rows["value"]
        return out
    if f.agg == "count_distinct":
        rows = con.execute(
            f"SELECT q.qid, count(DISTINCT e.k) AS c FROM {_join(f, table)} GROUP BY q.qid"
        ).fetchnumpy()
        qid, c = rows["qid"].astype(np.int64), rows["c"].astype(np.float64)
        out[qid[c > 0], 0] = c[c > 0]
        return out
    rows = con.execute(
        f"SELECT q.qid, count(*) AS c, sum(e.value) AS s, min(e.value) AS lo, max(e.value) AS hi "
        f"FROM {_join(f, table)} GROUP BY q.qid"
    ).fetchnumpy()
    qid = rows["qid"].astype(np.int64)
    c = rows["c"].astype(np.float64)
    s, lo, hi = (np.asarray(rows[k], dtype=np.float64) for k in ("s", "lo", "hi"))
    val = {"count": c, "sum": s, "mean": s / np.maximum(c, 1), "min": lo, "max": hi}[f.agg]
    out[qid, 0] = val
    return out


__all__ = ["compute_features", "load_events", "to_micros", "vectors"]
