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
    written, replaced = cache.store_days("binance", "BTCUSDT", "trades", cols, "test", tmp_path)
    assert written == ["2024-01-01", "2024-01-02", "2024-01-03"] and replaced == []
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
    _, replaced = cache.store_days("binance", "BTCUSDT", "trades", trades(50, span=DAY, seed=2), "b", tmp_path)
    assert replaced == ["2024-01-01"] and not old.exists()
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
