"""Importers on the real samples of ../shared/data and on hand-made edge cases."""
import datetime as dt
import gzip
import zipfile

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from passivx.cli import main
from passivx.data import cache, importers
from passivx.data.info import coverage
from passivx.errors import DataError
from realdata import DATA_DIR, SHARED_DATA, needs_shared_data

USDM = DATA_DIR / "binance-usdm_BTCUSDT_trades_2024-08-08.csv.gz"  # shipped: these tests never skip
BITFLYER = SHARED_DATA / "trades" / "bitflyer_BTC_JPY_trades_2018-01-21_2018-01-30.csv.gz"

# rows and taker-buy share per file, as published in ../shared/data/README.md
TRADE_SAMPLES = {
    "binance-usdm_BTCUSDT_trades_2024-08-08.csv": (21_313, 0.451),
    "binance-usdm_BTCUSDT_trades_2023-04-04_2358Z.csv": (12_935, 0.501),
    "binance-coinm_BTCUSD_PERP_trades_2024-08-08.csv": (2_286, 0.429),
    "binance-spot_BTCUSDT_trades_2024-08-08.csv": (9_757, 0.421),
    "binance-usdm_BTCUSDT_trades_2024-07-18.csv": (974, 0.592),
    "binance-usdm_BTCUSDT_trades_2024-07-19.csv": (9_727, 0.372),
    "binance-coinm_BTCUSD_PERP_trades_2024-08-09.csv": (2_949, 0.537),
    "binance-spot_BTCUSDT_trades_2024-08-09.csv": (10_147, 0.492),
}
CANDLE_SAMPLES = {
    "binance-usdm_BTCUSDT_1m_2025-05-04_2025-06-24.csv": 73_139,
    "binance-usdm_BTCUSDT_1m_2023-07-18_2023-08-17.csv": 43_199,
    "ftx_BTC-PERP_1m_2021-12-31_2022-02-01.csv": 45_031,
}
AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
BYBIT_HEADER = "timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional"


@needs_shared_data
@pytest.mark.parametrize("name", sorted(TRADE_SAMPLES))
def test_normalised_trade_samples(name):
    rows, buy_share = TRADE_SAMPLES[name]
    p = importers.read_file(SHARED_DATA / "trades" / name)
    raw = pd.read_csv(SHARED_DATA / "trades" / name)
    assert p.fmt == "trades-csv" and len(p.columns["ts"]) == rows
    assert round(float((p.columns["side"] == 1).mean()), 3) == buy_share
    assert np.array_equal(p.columns["ts"], raw.ts_ms.to_numpy())  # already sorted by time
    assert np.array_equal(p.columns["price"], raw.price.to_numpy()) and np.array_equal(p.columns["qty"], raw.qty.to_numpy())
    assert np.array_equal(p.columns["side"], np.where(raw.is_buyer_maker, -1, 1))


@needs_shared_data
def test_bitflyer_sample_gz():
    p = importers.read_file(BITFLYER)
    side = p.columns["side"]
    assert len(side) == 1_229_723 and int((side == 0).sum()) == 448  # auction prints have no side
    assert round(float((side == 1).sum() / len(side)), 3) == 0.487
    assert (np.diff(p.columns["ts"]) >= 0).all()
    assert p.columns["price"].min() == 1_118_000 and p.columns["price"].max() == 1_473_021


@needs_shared_data
@pytest.mark.parametrize("name", sorted(CANDLE_SAMPLES))
def test_candle_samples(name):
    p = importers.read_file(SHARED_DATA / "candles_1m" / name)
    raw = pd.read_csv(SHARED_DATA / "candles_1m" / name)
    assert p.kind == "candles" and len(p.columns["ts"]) == CANDLE_SAMPLES[name]
    assert (np.diff(p.columns["ts"]) == 60_000).all()  # the README: no missing minute
    for k in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(p.columns[k], raw[k].to_numpy())


@needs_shared_data
def test_gap_report_on_bitflyer_matches_known_gaps(tmp_path):
    importers.import_files([BITFLYER], "bitflyer", "BTC_JPY", tmp_path)
    ms = lambda s: int(dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp() * 1000)
    gaps = coverage("bitflyer", "BTC_JPY", cache_dir=tmp_path, gap_minutes=5).gaps
    assert (ms("2018-01-26 14:28:28"), ms("2018-01-26 15:14:41")) in [(a // 1000 * 1000, b // 1000 * 1000) for a, b in gaps]
    # daily maintenance: ~12 min from about 19:00 UTC on each of the 10 days that contain 19:00
    maintenance = [(a, b) for a, b in gaps if 18 * 60 + 55 <= (a // 60_000) % 1440 <= 19 * 60 + 5]
    assert len(maintenance) == 10 and all(10 <= (b - a) / 60_000 <= 14 for a, b in maintenance)
    # the first day's leading gap from 00:00 and the last day's trailing gap to 24:00 (the data starts and ends
    # mid-day), and between them those 11 plus 7 more of 5-20.4 min
    lead, *gaps, trail = gaps
    assert lead[0] % 86_400_000 == 0 and trail[1] % 86_400_000 == 0
    assert len(gaps) == 18
    assert max((b - a) for a, b in gaps if (a, b) not in maintenance and b - a < 40 * 60_000) == pytest.approx(20.4 * 60_000, abs=60_000)
    assert len(coverage("bitflyer", "BTC_JPY", cache_dir=tmp_path, gap_minutes=1).gaps) == 62


def _usdm() -> pd.DataFrame:
    raw = pd.read_csv(USDM)
    return raw.assign(is_buyer_maker=raw.side == "sell")


def _agg_lines(raw: pd.DataFrame) -> list[str]:
    return [f"{r.trade_id},{r.price},{r.qty},{r.trade_id},{r.trade_id},{r.ts_ms},{str(r.is_buyer_maker).lower()}"
            for r in raw.itertuples()]


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("zipped", [True, False])
def test_binance_aggtrades_layout(tmp_path, header, zipped):
    raw = _usdm()
    text = "\n".join(([AGG_HEADER] if header else []) + _agg_lines(raw)) + "\n"
    path = tmp_path / "BTCUSDT-aggTrades-2024-08-08.csv"
    path.write_text(text)
    if zipped:
        with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.write(path, path.name)
        path = tmp_path / "a.zip"
    p = importers.read_file(path)
    assert p.fmt == "binance-aggtrades"
    assert np.array_equal(p.columns["ts"], raw.ts_ms) and np.array_equal(p.columns["price"], raw.price)
    assert np.array_equal(p.columns["side"], np.where(raw.is_buyer_maker, -1, 1))
    assert np.array_equal(p.ids, raw.trade_id)


@pytest.mark.parametrize("gz", [True, False])
def test_bybit_trading_layout(tmp_path, gz):
    raw = _usdm().iloc[::-1]  # old Bybit files run newest first
    lines = [BYBIT_HEADER] + [
        f"{r.ts_ms / 1000:.4f},BTCUSD,{'Sell' if r.is_buyer_maker else 'Buy'},{r.qty},{r.price},ZeroPlusTick,"
        f"id-{r.trade_id},1,{r.qty},{r.qty * r.price}" for r in raw.itertuples()]
    path = tmp_path / ("BTCUSD2024-08-08.csv.gz" if gz else "BTCUSD2024-08-08.csv")
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    p = importers.read_file(path)
    fwd = raw.iloc[::-1]
    assert p.fmt == "bybit-trades" and p.reordered > 0
    assert np.array_equal(p.columns["ts"], fwd.ts_ms)  # seconds with 4 decimals -> exact ms
    assert np.array_equal(p.columns["qty"], fwd.qty) and np.array_equal(p.columns["side"], np.where(fwd.is_buyer_maker, -1, 1))


def test_binance_klines_layout_with_microseconds(tmp_path):
    t = 1_735_689_600_000  # 2025-01-01
    rows = [f"{(t + i * 60_000) * 1000},100,{101 + i},99,100.5,{i}.5,{(t + i * 60_000 + 59_999) * 1000},0,1,0,0,0"
            for i in range(3)]
    (tmp_path / "k.csv").write_text("\n".join(rows) + "\n")
    p = importers.read_file(tmp_path / "k.csv")
    assert p.fmt == "binance-klines" and list(p.columns["ts"]) == [t, t + 60_000, t + 120_000]
    assert list(p.columns["high"]) == [101, 102, 103] and list(p.columns["volume"]) == [0.5, 1.5, 2.5]


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


HEAD = "ts_ms,trade_id,price,qty,side\n"


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(DataError, match="empty file"):
        importers.read_file(write(tmp_path, ""))
    with pytest.raises(DataError, match="header only"):
        importers.read_file(write(tmp_path, HEAD))
    with pytest.raises(DataError, match="header only"):
        importers.read_file(write(tmp_path, AGG_HEADER + "\n"))


def test_unsorted_timestamps_are_sorted_stably(tmp_path):
    p = importers.read_file(write(tmp_path, HEAD + "1700000000100,1,10,1,buy\n1700000000300,3,12,1,buy\n"
                                                 "1700000000200,2,11,1,\n1700000000300,4,13,1,sell\n"
                                                 "1700000000400,5,14,1,sell\n"))
    assert list(p.columns["ts"]) == [1700000000100, 1700000000200, 1700000000300, 1700000000300, 1700000000400]
    assert list(p.columns["price"]) == [10, 11, 12, 13, 14] and list(p.columns["side"]) == [1, 0, 1, -1, -1]
    assert p.reordered == 1


def test_newest_first_file_keeps_same_millisecond_order(tmp_path):
    p = importers.read_file(write(tmp_path, HEAD + "1700000000300,4,13,1,sell\n1700000000200,3,12,1,buy\n"
                                                 "1700000000200,2,11,1,buy\n1700000000100,1,10,1,sell\n"))
    assert list(p.columns["price"]) == [10, 11, 12, 13]  # ids 1..4: execution order within 200 ms kept


def test_duplicate_trade_ids_are_dropped_within_and_across_files(tmp_path):
    a = write(tmp_path, HEAD + "1700000000100,1,10,1,buy\n1700000000200,2,11,1,buy\n1700000000200,2,11,1,buy\n", "a.csv")
    b = write(tmp_path, HEAD + "1700000000200,2,11,1,buy\n1700000000300,3,12,1,sell\n", "b.csv")
    assert importers.read_file(a).duplicates == 1
    rep = importers.import_files([a, b], "x", "Y", tmp_path)
    assert rep.rows == 3 and rep.duplicates == 2
    (day,) = cache.open_days("x", "Y", "2023-11-14", "2023-11-14", cache_dir=tmp_path)
    assert list(day.ts) == [1700000000100, 1700000000200, 1700000000300]


@pytest.mark.parametrize("body, line, what", [
    ("1700000000100,1,10,1,buy\n1700000000200,2,abc,1,buy\n", 3, "price: 'abc' is not a number"),
    ("1700000000100,1,10,1,buy\n\n1700000000200,2,11,1,buy,extra\n", 4, "6 columns, expected 5"),
    ("1700000000100,1,10,1,buy\n1700000000200,2,11\n", 3, "3 columns, expected 5"),
    ("1700000000100,1,10,1,buy\n1700000000200,2,11,1,up\n", 3, "'up'"),
    ("1700000000100,1,10,1,buy\n1700000000200,2,11,0,buy\n", 3, "quantity must be > 0"),
    ("1700000000100,1,10,1,buy\n1700000000.2,2,11,1,buy\n", 3, "ts_ms: '1700000000.2' is not an integer"),
    ("1700000000100,1,10,1,buy\n1700000000,2,11,1,buy\n", 3, "timestamp outside"),
    ("1700000000100,1,-10,1,buy\n", 2, "price must be > 0"),
    ("1700000000100,1,nan,1,buy\n", 2, "not a finite number"),
])
def test_malformed_row_names_file_and_line(tmp_path, body, line, what):
    path = write(tmp_path, HEAD + body)
    with pytest.raises(DataError) as e:
        importers.read_file(path)
    assert f"{path} line {line}:" in str(e.value) and what in str(e.value) and "\n" not in str(e.value)


def test_malformed_binance_row_without_header(tmp_path):
    path = write(tmp_path, "1,100.5,0.1,1,1,1700000000100,true\n2,100.5,0.1,2,2,1700000000200,maybe\n")
    with pytest.raises(DataError, match=r"line 2: is_buyer_maker: 'maybe'"):
        importers.read_file(path)


def test_bad_candle_rows(tmp_path):
    head = "open_time_ms,open_time_utc,open,high,low,close,volume\n"
    ok = "1700000040000,x,10,11,9,10.5,1\n"
    with pytest.raises(DataError, match="line 3: high/low do not bound"):
        importers.read_file(write(tmp_path, head + ok + "1700000100000,x,10,10.2,9,10.5,1\n"))
    with pytest.raises(DataError, match="line 2: candle open time is not on a whole minute"):
        importers.read_file(write(tmp_path, head + "1700000040001,x,10,11,9,10.5,1\n"))


def test_unknown_layout_and_format_option(tmp_path):
    with pytest.raises(DataError, match="matches no known layout"):
        importers.read_file(write(tmp_path, "a,b,c\n1,2,3\n"))
    with pytest.raises(DataError, match="matches no known layout"):
        importers.read_file(write(tmp_path, HEAD + "1700000000100,1,10,1,buy\n"), fmt="bybit-trades")


def test_nothing_half_imported_when_one_file_is_bad(tmp_path):
    good = write(tmp_path, HEAD + "1700000000100,1,10,1,buy\n", "good.csv")
    importers.import_files([good], "x", "Y", tmp_path)
    directory = tmp_path / "trades" / "x" / "Y"
    before = sorted(p.name for p in directory.iterdir()), (directory / "manifest.json").read_bytes()
    other_day = write(tmp_path, HEAD + "1700100000100,1,10,1,buy\n", "next.csv")
    bad = write(tmp_path, HEAD + "1700000000100,1,10,1,buy\n1700000000200,2,1O,1,buy\n", "bad.csv")
    with pytest.raises(DataError, match="bad.csv line 3"):
        importers.import_files([other_day, bad], "x", "Y", tmp_path)
    assert (sorted(p.name for p in directory.iterdir()), (directory / "manifest.json").read_bytes()) == before


def test_cli_import_and_info(tmp_path):
    a = write(tmp_path, HEAD + "1700000000100,1,10,1,buy\n1700000900100,2,11,1,sell\n", "a.csv")
    r = CliRunner().invoke(main, ["data", "import", str(a), "--exchange", "x", "--symbol", "y",
                                  "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "imported 2 trades rows into 1 day(s) 2023-11-14..2023-11-14" in r.output
    r = CliRunner().invoke(main, ["data", "info", "x", "Y", "--gap-minutes", "10", "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 0 and "gaps longer than 10 min: 3" in r.output and "(15.0 min)" in r.output
    assert "00:00:00.000 -> 2023-11-14 22:13:20.100" in r.output and "partial: starts late, ends early" in r.output
    r = CliRunner().invoke(main, ["data", "import", str(tmp_path / "nope.csv"), "--exchange", "x", "--symbol", "y",
                                  "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 1 and r.output.strip().startswith("error:") and "Traceback" not in r.output


BOM = "\ufeff"


@pytest.mark.parametrize("text", [
    HEAD + "1700000000100,1,10,1,buy\n1700000000200,2,11,2,sell\n",
    "1,10,1,1,1,1700000000100,false\n2,11,2,2,2,1700000000200,true\n",  # aggTrades without a header
    "open_time_ms,open,high,low,close,volume\n1700000040000,10,11,9,10.5,1\n",
])
def test_a_utf8_byte_order_mark_is_ignored(tmp_path, text):
    """Spreadsheets save CSV with a byte order mark: the file reads as without it, plain or compressed."""
    plain = importers.read_file(write(tmp_path, text, "plain.csv"))
    for name, data in (("bom.csv", (BOM + text).encode()), ("bom.csv.gz", gzip.compress((BOM + text).encode()))):
        (tmp_path / name).write_bytes(data)
        got = importers.read_file(tmp_path / name)
        assert got.fmt == plain.fmt and all(np.array_equal(got.columns[k], v) for k, v in plain.columns.items())
    r = CliRunner().invoke(main, ["data", "import", str(tmp_path / "bom.csv"), "--exchange", "x", "--symbol", "y",
                                  "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 0 and "rows into 1 day(s) 2023-11-14" in r.output, r.output


def test_a_bad_line_after_a_byte_order_mark_keeps_its_line_number(tmp_path):
    path = write(tmp_path, BOM + HEAD + "1700000000100,1,10,1,buy\n1700000000200,2,x,1,buy\n")
    with pytest.raises(DataError, match=r"line 3: price: 'x' is not a number"):
        importers.read_file(path)


def _import(path, cache_dir):
    return CliRunner().invoke(main, ["data", "import", str(path), "--exchange", "binance", "--symbol", "BTCUSDT",
                                     "--cache-dir", str(cache_dir)])


def test_importing_parts_of_a_real_day_merges_them_with_the_cached_day(tmp_path):
    """A partial day adds to the cached day instead of replacing it; overlapping trades are not repeated
    (the real sample repeats identical trades within a millisecond), and the result is the whole day's
    file whatever the order of the imports; a second import of the whole day changes nothing."""
    lines = gzip.decompress(USDM.read_bytes()).decode().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    early, late = write(tmp_path, header + "".join(rows[:13_000]), "early.csv"), \
        write(tmp_path, header + "".join(rows[9_000:]), "late.csv")
    assert _import(USDM, tmp_path / "whole").exit_code == 0
    directory = ("trades", "binance", "BTCUSDT")
    (whole,) = (tmp_path / "whole").joinpath(*directory).glob("*.pxd")
    for first, second, added in ((early, late, len(rows) - 13_000), (late, early, 9_000)):
        cache_dir = tmp_path / first.stem
        assert _import(first, cache_dir).exit_code == 0
        r = _import(second, cache_dir)
        assert r.exit_code == 0 and f"merged with the cached day(s) 2024-08-08 (+{added:,} rows)" in r.output, r.output
        files = list(cache_dir.joinpath(*directory).glob("*.pxd"))
        assert [f.name for f in files] == [whole.name]  # same sha256: same rows in the same order
        r = CliRunner().invoke(main, ["data", "info", "binance", "BTCUSDT", "--verify", "--cache-dir", str(cache_dir)])
        assert r.exit_code == 0 and f"2024-08-08       {len(rows):,}" in r.output, r.output
        assert "0.4%  partial: starts late" in r.output and "BAD" not in r.output  # the sample's last 5.7 minutes
        r = _import(USDM, cache_dir)
        assert "(+0 rows)" in r.output and [f.name for f in cache_dir.joinpath(*directory).glob("*.pxd")] == [whole.name]
