"""The day cache: file format, manifest commits, integrity checks, open_days errors."""
import datetime as dt
import json
import os

import numpy as np
import pytest

from passivx.data import cache, dayfile, manifest
from passivx.errors import DataError

DAY = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def trades(n, start=T0, span=3 * DAY, seed=0):
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(start, start + span, n))
    return {"ts": ts, "price": np.round(40000 + rng.normal(0, 50, n), 1),
            "qty": np.round(rng.uniform(0.001, 1, n), 3), "side": rng.choice([-1, 0, 1], n).astype(np.int8)}


def test_day_file_round_trip_is_aligned_read_only_and_hashed(tmp_path):
    cols = trades(1001)
    path = tmp_path / "d.pxd"
    size, sha = dayfile.write_day(path, "trades", cols)
    assert size == path.stat().st_size
    import hashlib
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    got = dayfile.map_day(path, "trades")
    for k, v in cols.items():
        assert np.array_equal(got[k], v) and got[k].dtype == np.dtype(dict(dayfile.SCHEMAS["trades"])[k])
        assert not got[k].flags.writeable and got[k].ctypes.data % 64 == 0
    with pytest.raises(DataError, match="expected candles"):
        dayfile.map_day(path, "candles")
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match="not a valid day file"):
        dayfile.map_day(path, "trades")


def test_store_splits_utc_days_and_open_days_returns_them(tmp_path):
    cols = trades(5000)
    stored = cache.store_days("binance", "BTCUSDT", "trades", cols, "test", tmp_path)
    assert stored == (["2024-01-01", "2024-01-02", "2024-01-03"], [], {})
    days = cache.open_days("binance", "BTCUSDT", "2024-01-01", dt.date(2024, 1, 3), cache_dir=tmp_path)
    assert [d.date for d in days] == [dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    joined = {k: np.concatenate([getattr(d, k) for d in days]) for k in cols}
    for k in cols:
        assert np.array_equal(joined[k], cols[k])
    for i, d in enumerate(days):
        assert d.ts.dtype == np.int64 and d.side.dtype == np.int8
        assert (d.ts >= T0 + i * DAY).all() and (d.ts < T0 + (i + 1) * DAY).all()
        assert d.rows == len(d.ts) and d.first_ts == d.ts[0] and d.last_ts == d.ts[-1]
    with pytest.raises(AttributeError):
        _ = days[0].open  # a trades day has no candle columns
    days[0].release()
    assert np.array_equal(days[0].price, joined["price"][:days[0].rows])  # maps again on demand


def test_aliases_share_one_data_set(tmp_path):
    cache.store_days("binanceusdm", "BTC/USDT:USDT", "trades", trades(100, span=DAY), "t", tmp_path)
    assert len(cache.open_days("binance", "btcusdt", "2024-01-01", "2024-01-01", cache_dir=tmp_path)) == 1


def test_missing_days_error_lists_them_and_the_fix(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(500, span=DAY), "t", tmp_path)
    with pytest.raises(DataError) as e:
        cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-03", cache_dir=tmp_path)
    msg = str(e.value)
    assert "2024-01-02, 2024-01-03" in msg and "\n" not in msg
    assert "passivx download binance BTCUSDT --start 2024-01-02 --end 2024-01-03" in msg
    with pytest.raises(DataError, match="passivx data import FILE... --exchange bitflyer"):
        cache.open_days("bitflyer", "BTC_JPY", "2024-01-01", "2024-01-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match="--kind candles"):
        cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", kind="candles", cache_dir=tmp_path)


def _only_file(tmp_path):
    (f,) = (tmp_path / "trades" / "binance" / "BTCUSDT").glob("*.pxd")
    return f


def test_checksum_failure_is_detected_and_names_day_and_fix(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(2000, span=DAY), "t", tmp_path)
    f = _only_file(tmp_path)
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF  # flip bits of a price, same size
    f.write_bytes(bytes(data))
    with pytest.raises(DataError) as e:
        cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)
    assert "2024-01-01" in str(e.value) and "checksum" in str(e.value)
    assert "passivx download binance BTCUSDT --start 2024-01-01 --end 2024-01-01" in str(e.value)


def test_corruption_hidden_from_the_stamp_is_caught_by_full_verify(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(2000, span=DAY), "t", tmp_path)
    f = _only_file(tmp_path)
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: the cheap check trusts it
    assert len(cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)) == 1
    with pytest.raises(DataError, match="checksum"):
        cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path, verify="full")


def test_data_info_verify_reports_the_corrupt_day(tmp_path):
    from click.testing import CliRunner

    from passivx.cli import main

    cache.store_days("binance", "BTCUSDT", "trades", trades(3000), "t", tmp_path)
    (f,) = (tmp_path / "trades" / "binance" / "BTCUSDT").glob("2024-01-02.*.pxd")
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-5] ^= 1
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    args = ["data", "info", "binance", "BTCUSDT", "--cache-dir", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 0  # the stamp still matches: not re-hashed
    r = CliRunner().invoke(main, args + ["--verify"])
    assert r.exit_code == 1 and "2024-01-02" in r.output and "BAD: file" in r.output
    assert "1 corrupt day(s): 2024-01-02" in r.output and "2024-01-01  " in r.output


def test_truncated_or_deleted_file_is_reported(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(2000, span=DAY), "t", tmp_path)
    f = _only_file(tmp_path)
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(DataError, match="bytes, the manifest says"):
        cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)
    f.unlink()
    with pytest.raises(DataError, match="missing"):
        cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)


def test_touched_intact_file_is_rehashed_once_then_trusted(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(2000, span=DAY), "t", tmp_path)
    f = _only_file(tmp_path)
    os.utime(f, ns=(1, 1))  # e.g. copied without preserving times
    man_path = f.parent / "manifest.json"
    before = json.loads(man_path.read_text())["days"]["2024-01-01"]["stamp"]
    cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)
    after = json.loads(man_path.read_text())["days"]["2024-01-01"]["stamp"]
    assert before != after and after == [f.stat().st_size, 1]


def test_replacing_a_day_removes_the_old_file(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(100, span=DAY, seed=1), "a", tmp_path)
    old = _only_file(tmp_path)
    stored = cache.store_days("binance", "BTCUSDT", "trades", trades(50, span=DAY, seed=2), "b", tmp_path)
    assert stored.replaced == ["2024-01-01"] and not stored.merged and not old.exists()
    (d,) = cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)
    assert d.rows == 50


def test_failed_store_leaves_cache_unchanged(tmp_path, monkeypatch):
    cache.store_days("binance", "BTCUSDT", "trades", trades(100, span=DAY, seed=1), "a", tmp_path)
    directory = _only_file(tmp_path).parent
    before = sorted(p.name for p in directory.iterdir()), (directory / "manifest.json").read_bytes()
    real = dayfile.write_day
    calls = []

    def failing(path, kind, cols):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(path, kind, cols)

    monkeypatch.setattr(dayfile, "write_day", failing)
    with pytest.raises(OSError):
        cache.store_days("binance", "BTCUSDT", "trades", trades(3000, seed=3), "b", tmp_path)
    assert (sorted(p.name for p in directory.iterdir()), (directory / "manifest.json").read_bytes()) == before


def test_manifest_records_rows_first_last_and_checksum(tmp_path):
    cols = trades(3000)
    cache.store_days("binance", "BTCUSDT", "trades", cols, "src", tmp_path)
    man = manifest.load(tmp_path / "trades" / "binance" / "BTCUSDT", "binance", "BTCUSDT", "trades")
    day_idx = (cols["ts"] - T0) // DAY
    for i, (d, e) in enumerate(man.days.items()):
        sel = cols["ts"][day_idx == i]
        assert e["rows"] == len(sel) and e["first_ts"] == sel[0] and e["last_ts"] == sel[-1]
        assert e["sha256"] == dayfile.file_sha256(man.directory / e["file"]) and e["source"] == "src"


def test_default_cache_dir_env_and_cwd(tmp_path, monkeypatch):
    monkeypatch.setenv("PASSIVX_CACHE_DIR", str(tmp_path / "x"))
    assert cache.default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("PASSIVX_CACHE_DIR")
    monkeypatch.chdir(tmp_path)
    assert cache.default_cache_dir() == tmp_path / "cache"


def test_bad_names_and_dates_are_user_errors(tmp_path):
    with pytest.raises(DataError, match="symbol"):
        cache.open_days("binance", "../etc", "2024-01-01", "2024-01-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match="YYYY-MM-DD"):
        cache.open_days("binance", "BTCUSDT", "2024-13-01", "2024-01-01", cache_dir=tmp_path)
    with pytest.raises(DataError, match="before"):
        cache.open_days("binance", "BTCUSDT", "2024-01-02", "2024-01-01", cache_dir=tmp_path)


@pytest.mark.parametrize("edit, why", [
    (lambda e: {k: v for k, v in e.items() if k != "file"}, "the entry has no 'file'"),
    (lambda e: "not an object", "the entry is str, not an object"),
    (lambda e: dict(e, file="../../elsewhere.pxd"), "is not a file name in the data set's folder"),
    (lambda e: dict(e, rows="10"), "the entry has no 'rows' (an integer >= 0)"),
    (lambda e: {k: v for k, v in e.items() if k != "sha256"}, "no 'sha256'"),
])
def test_a_broken_manifest_entry_is_one_error_naming_the_manifest_and_the_fix(tmp_path, edit, why):
    from click.testing import CliRunner

    from passivx.cli import main

    cache.store_days("binance", "BTCUSDT", "trades", trades(100, start=T0 - 600 * DAY, span=DAY), "t", tmp_path)
    path = tmp_path / "trades" / "binance" / "BTCUSDT" / "manifest.json"
    data = json.loads(path.read_text())
    (day,) = data["days"]
    data["days"][day] = edit(data["days"][day])
    path.write_text(json.dumps(data))
    settings = tmp_path / "s.hjson"
    settings.write_text(json.dumps({"exchange": "binance", "symbol": "BTCUSDT", "start_date": day,
                                    "end_date": day, "starting_balance": 1000, "cache_dir": str(tmp_path)}))
    config = "configs/live/binance/BTCUSDT_recursive_grid.json"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    overview = CliRunner().invoke(main, ["data", "info", "--cache-dir", str(tmp_path)])  # lists the rest
    assert overview.exit_code == 0 and overview.output.startswith("trades   binance      BTCUSDT        BAD: ")
    assert why in overview.output and "remove that day from the manifest" in overview.output
    for args in (["data", "info", "--strict", "--cache-dir", str(tmp_path)],
                 ["data", "info", "binance", "BTCUSDT", "--cache-dir", str(tmp_path)],
                 ["backtest", str(settings), "--config", os.path.join(root, config), "--jit", "--no-plots"],
                 ["download", "binance", "BTCUSDT", "--start", day, "--end", day, "--no-rest",
                  "--cache-dir", str(tmp_path)]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
        if "--strict" in args:
            assert r.stderr.startswith("error: --strict: 1 problem(s)"), r.output
            continue
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: day '{day}': "), (args, r.output)
        assert why in lines[0] and "remove that day from the manifest" in lines[0]


def test_a_manifest_day_key_must_be_a_date(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(100, span=DAY), "t", tmp_path)
    path = tmp_path / "trades" / "binance" / "BTCUSDT" / "manifest.json"
    data = json.loads(path.read_text())
    for key in ("2024-1-1x", "20240101"):
        data["days"] = {key: next(iter(data["days"].values()))}
        path.write_text(json.dumps(data))
        with pytest.raises(DataError, match=f"day '{key}': not a date YYYY-MM-DD"):
            cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path)


def _rows(cols, idx):
    return {k: v[idx] for k, v in cols.items()}


def _day_files(tmp_path):
    return sorted(p.name for p in (tmp_path / "trades" / "binance" / "BTCUSDT").glob("*.pxd"))


def test_merging_parts_of_a_day_rebuilds_the_day_exactly(tmp_path):
    """Repeated identical trades (same ms, price, qty, side) count once per source copy, not per import;
    the merged day is the file of the rows both parts cover, byte for byte, whatever the import order."""
    rng = np.random.default_rng(5)
    n = 4000
    ts = np.sort(rng.integers(T0, T0 + 400, n))  # about 10 trades per millisecond
    full = {"ts": ts, "price": np.round(100 + rng.integers(0, 3, n) * 0.5, 1), "qty": rng.choice([1.0, 2.0], n),
            "side": rng.choice([-1, 1], n).astype(np.int8)}
    repeats = n - len(np.unique(np.c_[ts, full["price"], full["qty"], full["side"]], axis=0))
    assert repeats > 500  # the case that matters: identical trades that are distinct trades
    for a, b in ((range(0, 2500), range(1500, n)), (range(0, 2001), range(1999, n)), (range(0, n), range(700, 900)),
                 (range(0, 1500), range(2500, n))):
        union = sorted(set(a) | set(b))
        cache.store_days("binance", "BTCUSDT", "trades", _rows(full, union), "all", tmp_path / f"{a}{b}")
        (expected,) = _day_files(tmp_path / f"{a}{b}")
        for first, second in ((a, b), (b, a)):
            d = tmp_path / f"{first}{second}-merged"
            cache.store_days("binance", "BTCUSDT", "trades", _rows(full, first), "a", d, merge=True)
            stored = cache.store_days("binance", "BTCUSDT", "trades", _rows(full, second), "b", d, merge=True)
            assert stored.merged == {"2024-01-01": len(union) - len(first)} and stored.replaced == []
            assert _day_files(d) == [expected], (first, second)  # same sha256: same rows, same order
            man = manifest.load(d / "trades" / "binance" / "BTCUSDT", "binance", "BTCUSDT", "trades")
            assert man.days["2024-01-01"]["rows"] == len(union) and man.days["2024-01-01"]["source"] == "a + b"


def test_merge_keeps_extra_repeats_and_time_order():
    one = {"ts": np.array([5, 5, 7]), "price": np.array([1.0, 1.0, 2.0]), "qty": np.ones(3),
           "side": np.array([1, 1, -1], np.int8)}
    three = {"ts": np.array([3, 5, 5, 5]), "price": np.array([9.0, 1.0, 1.0, 1.0]), "qty": np.ones(4),
             "side": np.array([1, 1, 1, 1], np.int8)}
    got = cache.merge_rows("trades", one, three)
    assert list(got["ts"]) == [3, 5, 5, 5, 7] and list(got["price"]) == [9, 1, 1, 1, 2]
    assert list(cache.merge_rows("trades", three, one)["ts"]) == [3, 5, 5, 5, 7]


def test_merging_candles_replaces_the_same_minutes():
    def candles(minutes, price):
        ts = T0 + 60_000 * np.asarray(minutes)
        return {"ts": ts, **{k: np.full(len(ts), price) for k in ("open", "high", "low", "close")},
                "volume": np.ones(len(ts))}

    got = cache.merge_rows("candles", candles([0, 1, 2, 5], 10.0), candles([2, 3], 20.0))
    assert list((got["ts"] - T0) // 60_000) == [0, 1, 2, 3, 5] and list(got["close"]) == [10, 10, 20, 20, 10]


def test_a_corrupt_cached_day_is_replaced_not_merged(tmp_path):
    cache.store_days("binance", "BTCUSDT", "trades", trades(100, span=DAY, seed=1), "a", tmp_path)
    f = _only_file(tmp_path)
    f.write_bytes(f.read_bytes()[:-8] + b"garbage!")
    stored = cache.store_days("binance", "BTCUSDT", "trades", trades(30, span=DAY, seed=2), "b", tmp_path, merge=True)
    assert stored.replaced == ["2024-01-01"] and stored.merged == {}
    (d,) = cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path, verify="full")
    assert d.rows == 30


def test_a_day_changed_by_another_process_during_a_merge_is_not_overwritten(tmp_path, monkeypatch):
    cache.store_days("binance", "BTCUSDT", "trades", trades(100, span=DAY, seed=1), "a", tmp_path)
    real = dayfile.write_day

    def racing(path, kind, cols):
        monkeypatch.setattr(dayfile, "write_day", real)
        cache.store_days("binance", "BTCUSDT", "trades", trades(40, span=DAY, seed=3), "other", tmp_path)
        return real(path, kind, cols)

    monkeypatch.setattr(dayfile, "write_day", racing)
    directory = _only_file(tmp_path).parent
    with pytest.raises(DataError, match="2024-01-01: changed in the cache .* by another process"):
        cache.store_days("binance", "BTCUSDT", "trades", trades(50, span=DAY, seed=2), "b", tmp_path, merge=True)
    (d,) = cache.open_days("binance", "BTCUSDT", "2024-01-01", "2024-01-01", cache_dir=tmp_path, verify="full")
    assert d.rows == 40 and not list(directory.glob("*.tmp"))


def test_rows_only_one_source_has_keep_their_place_within_a_millisecond():
    """Two windows of one stream meeting inside a millisecond, as when a file starts mid-millisecond."""
    ms = np.full(6, T0)
    stream = {"ts": ms, "price": np.arange(1.0, 7.0), "qty": np.ones(6), "side": np.ones(6, np.int8)}
    early, late = _rows(stream, slice(0, 4)), _rows(stream, slice(1, 6))  # late leads (5 rows to 4)
    for a, b in ((early, late), (late, early)):
        assert list(cache.merge_rows("trades", a, b)["price"]) == [1, 2, 3, 4, 5, 6]
    tie = _rows(stream, slice(0, 3)), _rows(stream, slice(2, 5))
    for a, b in (tie, tie[::-1]):
        assert list(cache.merge_rows("trades", a, b)["price"]) == [1, 2, 3, 4, 5]


def test_any_two_touching_windows_of_one_stream_merge_into_their_union():
    """Windows meeting or overlapping anywhere, mid-millisecond included (distinct trades here: identical
    ones at a window's edge are ambiguous without ids and taken as the same trade)."""
    rng = np.random.default_rng(11)
    n = 300
    stream = {"ts": np.sort(rng.integers(T0, T0 + 40, n)), "price": rng.integers(1, 4, n).astype(float),
              "qty": 1 + np.arange(n) / 1000, "side": rng.choice([-1, 1], n).astype(np.int8)}
    for _ in range(300):
        lo_a, lo_b = sorted(rng.integers(0, n, 2))
        hi_a, hi_b = rng.integers(lo_b, n + 1), rng.integers(lo_b + 1, n + 1)  # window b starts inside a or at its end
        a, b = _rows(stream, slice(lo_a, hi_a)), _rows(stream, slice(lo_b, hi_b))
        want = _rows(stream, slice(lo_a, max(hi_a, hi_b)))
        for x, y in ((a, b), (b, a)):
            got = cache.merge_rows("trades", x, y) if len(x["ts"]) else y
            assert all(np.array_equal(got[k], want[k]) for k in want)
