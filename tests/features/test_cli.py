"""`ember features inspect | export | forget | maintain` through the real `ember` CLI dispatcher."""

from __future__ import annotations

import argparse
import json

import pytest

from ember.features import Feature, FeatureSpec, FeatureStore
from ember.features import cli as fcli

NOW = 1_770_000_000.0


def run(argv: list[str]) -> int:
    try:
        from ember.cli import main
    except ImportError:  # dispatcher absent: drive our parser directly
        parser = argparse.ArgumentParser(prog="ember")
        fcli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(argv)
        return args.func(args)
    return main(argv)


@pytest.fixture
def db(tmp_path):
    p = tmp_path / "features.db"
    with FeatureStore(p, serve_sample_rate=1.0) as fs:
        spec = FeatureSpec("ranker", [Feature("n", event="click", window="1d")], version=3)
        for i in range(50):
            fs.log("click", f"user:{i % 4}", value=float(i), ts=NOW - i, attrs={"s": "feed"})
        fs.vector(spec, "user:1", at=NOW)
    return p


def test_register_adds_features_group():
    parser = argparse.ArgumentParser(prog="ember")
    fcli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["features", "inspect", "x.db"])
    assert callable(args.func)


def test_inspect_text_and_json(db, capsys):
    assert run(["features", "inspect", str(db)]) == 0
    out = capsys.readouterr().out
    assert "events 50" in out and "ranker v3" in out and "click" in out
    assert run(["features", "inspect", str(db), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["events"] == 50 and st["entities"] == 4 and st["served"] == 1
    assert st["bytes"]["used"] > 0 and st["specs"][0]["version"] == 3


def test_export_formats(db, tmp_path, capsys):
    jl = tmp_path / "e.jsonl"
    assert run(["features", "export", str(db), "-o", str(jl)]) == 0
    rows = [json.loads(x) for x in jl.read_text().splitlines()]
    assert len(rows) == 50 and rows[0]["event"] == "click" and json.loads(rows[0]["attrs"]) == {"s": "feed"}
    csvp = tmp_path / "e.csv"
    assert run(["features", "export", str(db), "-o", str(csvp)]) == 0
    assert csvp.read_text().splitlines()[0] == "seq,event,entity,ts,ts_us,value,attrs"
    sp = tmp_path / "specs.json"
    assert run(["features", "export", str(db), "--what", "specs", "-o", str(sp)]) == 0
    assert json.loads(sp.read_text())[0]["spec"]["name"] == "ranker"
    sv = tmp_path / "served.jsonl"
    assert run(["features", "export", str(db), "--what", "served", "-o", str(sv)]) == 0
    assert json.loads(sv.read_text())["vector"] == [13.0]
    pytest.importorskip("pyarrow")
    pq = tmp_path / "e.parquet"
    assert run(["features", "export", str(db), "-o", str(pq)]) == 0
    import pandas as pd

    assert len(pd.read_parquet(pq)) == 50


def test_errors_are_reported_not_raised(db, tmp_path, capsys):
    assert run(["features", "export", str(db), "-o", str(tmp_path / "e.xlsx")]) == 1
    assert "extension" in capsys.readouterr().err
    assert run(["features", "inspect", str(tmp_path / "missing.db")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_forget_and_maintain(db, capsys):
    assert run(["features", "forget", str(db), "user:1"]) == 0
    assert "forgot user:1" in capsys.readouterr().out
    assert run(["features", "maintain", str(db)]) == 0
    with FeatureStore(db, readonly=True) as fs:
        assert fs.stats()["entities"] == 3
    assert run(["features", "forget", str(db), "--all"]) == 0


def test_inspect_shows_journaled_events(tmp_path, capsys):
    p = tmp_path / "j.db"
    fs = FeatureStore(p, sync="journal", batch_size=10**9)
    for i in range(7):
        fs.log("click", "u", ts=NOW - i)
    assert run(["features", "inspect", str(p)]) == 0  # read only: the live journal stays as it is
    out = capsys.readouterr().out
    assert "journals 1" in out and "7 events not yet in the database" in out and "events 0" in out
    fs.close()
    assert run(["features", "inspect", str(p)]) == 0
    out = capsys.readouterr().out
    assert "journals" not in out and "events 7" in out
