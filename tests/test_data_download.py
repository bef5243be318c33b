"""The downloader against a local HTTP server on 127.0.0.1 that serves archive files and REST pages
in the exchanges' formats, with injected server errors, a cut transfer and resumes."""
import datetime as dt
import gzip
import hashlib
import io
import json
import socket
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from click.testing import CliRunner

from passivx.cli import main
from passivx.data import cache
from passivx.data.download import download
from passivx.errors import DataError, ExchangeError
from passivx.markets import market_spec

DAY_MS = 86_400_000
DAYS = [dt.date(2024, 3, 1), dt.date(2024, 3, 2), dt.date(2024, 3, 3)]
AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any attempt to resolve a host other than loopback fails the test at once."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"test tried to reach {host!r}: only 127.0.0.1 is allowed")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def make_trades(day, n, first_id, seed):
    """Ground truth for one day: ids, ms times (with same-ms clusters), prices, qtys, maker flags."""
    rng = np.random.default_rng(seed)
    t0 = cache.day_start_ms(day)
    ts = np.sort(rng.integers(t0, t0 + DAY_MS, n))
    ts[500:520] = ts[500]  # a burst in one millisecond across a REST page boundary
    ts = np.sort(ts)
    return {"id": np.arange(first_id, first_id + n), "ts": ts, "price": np.round(60000 + rng.normal(0, 30, n), 1),
            "qty": np.round(rng.uniform(0.001, 2, n), 3), "maker": rng.random(n) < 0.5}


def make_candles(day, seed):
    rng = np.random.default_rng(seed)
    t0 = cache.day_start_ms(day)
    o = np.round(60000 + rng.normal(0, 50, 1440), 1)
    c = np.round(o + rng.normal(0, 5, 1440), 1)
    return {"ts": t0 + np.arange(1440) * 60_000, "open": o, "high": np.maximum(o, c) + 1, "low": np.minimum(o, c) - 1,
            "close": c, "volume": np.round(rng.uniform(0, 100, 1440), 3)}


def zip_bytes(name, text):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, text)
    return buf.getvalue()


class Fake:
    """What the server knows: static files, REST data, injected faults, and a request log."""

    def __init__(self):
        self.files, self.faults, self.log = {}, {}, []
        self.agg, self.klines, self.bybit_klines = None, {}, {}
        self.min_notional = "100"


class Handler(BaseHTTPRequestHandler):
    fake: Fake

    def log_message(self, *args):
        pass

    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        f = self.fake
        f.log.append((url.path, dict(q), self.headers.get("Range")))
        faults = f.faults.get(url.path)
        if faults:
            fault = faults.pop(0)
            if fault == "cut":
                body = f.files[url.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_error(fault)
            return
        if url.path in f.files:
            body = f.files[url.path]
            rng = self.headers.get("Range")
            start = int(rng.split("=")[1].rstrip("-")) if rng else 0
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])
        elif url.path == "/fapi/v1/exchangeInfo":
            self.send_json({"timezone": "UTC", "serverTime": 1, "symbols": [{
                "symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL", "status": "TRADING",
                "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT", "pricePrecision": 2,
                "quantityPrecision": 3, "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "GTX"],
                "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.10", "minPrice": "556.80", "maxPrice": "4529764"},
                            {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000"},
                            {"filterType": "MIN_NOTIONAL", "notional": f.min_notional}]}]})
        elif url.path == "/fapi/v1/aggTrades":
            a = f.agg
            limit = min(int(q.get("limit", 500)), 1000)
            if "fromId" in q:
                sel = np.flatnonzero(a["id"] >= int(q["fromId"]))
            else:
                sel = np.flatnonzero((a["ts"] >= int(q["startTime"])) & (a["ts"] <= int(q["endTime"])))
            sel = sel[:limit]
            self.send_json([{"a": int(a["id"][i]), "p": str(a["price"][i]), "q": str(a["qty"][i]), "f": int(a["id"][i]),
                             "l": int(a["id"][i]), "T": int(a["ts"][i]), "m": bool(a["maker"][i])} for i in sel])
        elif url.path == "/fapi/v1/klines":
            rows = [r for t, r in sorted(f.klines.items()) if int(q["startTime"]) <= t <= int(q.get("endTime", 1 << 62))]
            self.send_json(rows[:int(q.get("limit", 500))])
        elif url.path == "/v5/market/instruments-info":
            items = [] if q.get("category") != "inverse" or q.get("status") else [{
                "symbol": "BTCUSD", "contractType": "InversePerpetual", "status": "Trading", "baseCoin": "BTC",
                "quoteCoin": "USD", "settleCoin": "BTC", "launchTime": "1585526400000", "fundingInterval": 480,
                "lotSizeFilter": {"minOrderQty": "1", "qtyStep": "1", "maxOrderQty": "30000000"},
                "priceFilter": {"tickSize": "0.50", "minPrice": "0.50", "maxPrice": "999999.00"},
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00"}}]
            self.send_json({"retCode": 0, "retMsg": "OK", "result": {"category": q.get("category"), "list": items,
                                                                    "nextPageCursor": ""}, "retExtInfo": {}, "time": 1})
        elif url.path == "/v5/market/kline":
            rows = [r for t, r in sorted(f.bybit_klines.items()) if int(q["start"]) <= t <= int(q["end"])]
            rows = rows[-int(q.get("limit", 200)):][::-1]  # Bybit: newest first
            self.send_json({"retCode": 0, "retMsg": "OK", "result": {"category": q.get("category"), "symbol": q["symbol"],
                                                                    "list": rows}, "retExtInfo": {}, "time": 1})
        else:
            self.send_error(404)


@pytest.fixture
def server(monkeypatch):
    fake = Fake()
    handler = type("H", (Handler,), {"fake": fake})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    for var in ("PASSIVX_BINANCE_ARCHIVE_URL", "PASSIVX_BYBIT_ARCHIVE_URL", "PASSIVX_BINANCE_REST_URL",
                "PASSIVX_BYBIT_REST_URL"):
        monkeypatch.setenv(var, base)
    yield fake
    httpd.shutdown()
    httpd.server_close()


def agg_path(day):
    return f"/data/futures/um/daily/aggTrades/BTCUSDT/BTCUSDT-aggTrades-{day}.zip"


@pytest.fixture
def binance(server):
    """Days 1 and 2 archived (with and without header, with CHECKSUM files); day 3 only on REST."""
    truth, first = {}, 7_000_000
    for i, day in enumerate(DAYS):
        truth[day] = make_trades(day, 2600, first, seed=i)
        first += 2600
    for day, header in ((DAYS[0], True), (DAYS[1], False)):
        t = truth[day]
        lines = [f"{a},{p},{q},{a},{a},{ts},{str(m).lower()}" for a, p, q, ts, m in
                 zip(t["id"], t["price"], t["qty"], t["ts"], t["maker"])]
        body = zip_bytes(f"BTCUSDT-aggTrades-{day}.csv", "\n".join([AGG_HEADER] * header + lines) + "\n")
        server.files[agg_path(day)] = body
        server.files[agg_path(day) + ".CHECKSUM"] = f"{hashlib.sha256(body).hexdigest()}  x.zip\n".encode()
    server.agg = {k: np.concatenate([truth[d][k] for d in DAYS]) for k in truth[DAYS[0]]}
    server.truth = truth
    return server


def assert_day_matches(cache_dir, day, t):
    (got,) = cache.open_days("binance", "BTCUSDT", day, day, cache_dir=cache_dir)
    assert np.array_equal(got.ts, t["ts"]) and np.array_equal(got.price, t["price"])
    assert np.array_equal(got.qty, t["qty"]) and np.array_equal(got.side, np.where(t["maker"], -1, 1))


def archive_requests(fake, day):
    return [entry for entry in fake.log if entry[0] == agg_path(day)]


def test_archives_then_rest_paging_for_the_unarchived_day(binance, tmp_path):
    rep = download("binance", "BTCUSDT", DAYS[0], DAYS[-1], cache_dir=tmp_path, progress=False,
                   retry_wait=0.01, rate_limit=False)
    assert rep.fetched == [d.isoformat() for d in DAYS] and rep.rows == 3 * 2600
    assert rep.sources["2024-03-03"] == "rest binanceusdm" and rep.sources["2024-03-01"].startswith("archive")
    for day in DAYS:
        assert_day_matches(tmp_path, day, binance.truth[day])
    pages = [q for path, q, _ in binance.log if path == "/fapi/v1/aggTrades"]
    assert len([q for q in pages if "fromId" in q]) >= 2  # paged by id after the first time window
    assert not list((tmp_path / "downloads").glob("*"))  # archives are removed once cached


def test_rerun_fetches_only_what_is_missing(binance, tmp_path):
    download("binance", "BTCUSDT", DAYS[0], DAYS[1], cache_dir=tmp_path, progress=False, rate_limit=False)
    binance.log.clear()
    rep = download("binance", "BTCUSDT", DAYS[0], DAYS[2], cache_dir=tmp_path, progress=False, rate_limit=False)
    assert rep.skipped == ["2024-03-01", "2024-03-02"] and rep.fetched == ["2024-03-03"]
    assert not archive_requests(binance, DAYS[0]) and not archive_requests(binance, DAYS[1])


def test_server_error_mid_way_then_resume(binance, tmp_path):
    binance.faults[agg_path(DAYS[1])] = [500] * 3
    with pytest.raises(ExchangeError) as e:
        download("binance", "BTCUSDT", DAYS[0], DAYS[2], cache_dir=tmp_path, progress=False, retries=3,
                 retry_wait=0.01, rate_limit=False)
    assert "HTTP 500" in str(e.value) and "re-run" in str(e.value) and "2024-03-02" in str(e.value)
    assert_day_matches(tmp_path, DAYS[0], binance.truth[DAYS[0]])  # the day before the failure is kept
    with pytest.raises(DataError, match="2024-03-02, 2024-03-03"):
        cache.open_days("binance", "BTCUSDT", DAYS[0], DAYS[2], cache_dir=tmp_path)
    binance.log.clear()
    rep = download("binance", "BTCUSDT", DAYS[0], DAYS[2], cache_dir=tmp_path, progress=False, rate_limit=False)
    assert rep.skipped == ["2024-03-01"] and rep.fetched == ["2024-03-02", "2024-03-03"]
    assert not archive_requests(binance, DAYS[0])
    for day in DAYS:
        assert_day_matches(tmp_path, day, binance.truth[day])


def test_transient_error_and_cut_transfer_resume_with_range(binance, tmp_path):
    binance.faults[agg_path(DAYS[0])] = [503, "cut"]
    rep = download("binance", "BTCUSDT", DAYS[0], DAYS[0], cache_dir=tmp_path, progress=False, retry_wait=0.01)
    assert rep.fetched == ["2024-03-01"]
    ranges = [r for _, _, r in archive_requests(binance, DAYS[0])]
    size = len(binance.files[agg_path(DAYS[0])])
    assert ranges == [None, None, f"bytes={size // 2}-"]  # the third request continued the cut one
    assert_day_matches(tmp_path, DAYS[0], binance.truth[DAYS[0]])


def test_published_checksum_mismatch_is_refused(binance, tmp_path):
    binance.files[agg_path(DAYS[0]) + ".CHECKSUM"] = b"0" * 64 + b"  x.zip\n"
    with pytest.raises(DataError, match="does not match its published sha256"):
        download("binance", "BTCUSDT", DAYS[0], DAYS[0], cache_dir=tmp_path, progress=False)
    with pytest.raises(DataError, match="not in the cache"):
        cache.open_days("binance", "BTCUSDT", DAYS[0], DAYS[0], cache_dir=tmp_path)


def test_corrupt_cached_day_is_fetched_again(binance, tmp_path):
    download("binance", "BTCUSDT", DAYS[0], DAYS[0], cache_dir=tmp_path, progress=False)
    (f,) = (tmp_path / "trades" / "binance" / "BTCUSDT").glob("*.pxd")
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x55
    f.write_bytes(bytes(data))
    rep = download("binance", "BTCUSDT", DAYS[0], DAYS[0], cache_dir=tmp_path, progress=False)
    assert rep.repaired == ["2024-03-01"] and rep.fetched == ["2024-03-01"]
    assert_day_matches(tmp_path, DAYS[0], binance.truth[DAYS[0]])


def test_rest_day_with_the_rate_limiter_on(binance, tmp_path):
    truth = {k: v[:700] for k, v in binance.truth[DAYS[2]].items()}  # a short day: three REST calls
    binance.agg = truth
    rep = download("binance", "BTCUSDT", DAYS[2], DAYS[2], cache_dir=tmp_path, progress=False, rate_limit=True)
    assert rep.fetched == ["2024-03-03"]
    assert_day_matches(tmp_path, DAYS[2], truth)


def test_binance_candles_from_klines_archive_and_rest(server, tmp_path):
    c1, c2 = make_candles(DAYS[0], 1), make_candles(DAYS[1], 2)
    rows = [f"{t},{o},{h},{lo},{c},{v},{t + 59_999},0,1,0,0,0" for t, o, h, lo, c, v in
            zip(c1["ts"], c1["open"], c1["high"], c1["low"], c1["close"], c1["volume"])]
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
    server.files[f"/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-{DAYS[0]}.zip"] = zip_bytes("k.csv", "\n".join([header] + rows))
    server.klines = {int(t): [int(t), str(o), str(h), str(lo), str(c), str(v), int(t) + 59_999, "0", 1, "0", "0", "0"]
                     for t, o, h, lo, c, v in zip(c2["ts"], c2["open"], c2["high"], c2["low"], c2["close"], c2["volume"])}
    rep = download("binance", "BTCUSDT", DAYS[0], DAYS[1], kind="candles", cache_dir=tmp_path, progress=False, rate_limit=False)
    assert rep.sources["2024-03-02"] == "rest binanceusdm"
    got = cache.open_days("binance", "BTCUSDT", DAYS[0], DAYS[1], kind="candles", cache_dir=tmp_path)
    for day, truth in zip(got, (c1, c2)):
        for k in truth:
            assert np.array_equal(getattr(day, k), truth[k]), k


def test_bybit_trades_archive_and_candles_from_rest(server, tmp_path):
    t = make_trades(DAYS[0], 1500, 1, seed=5)
    lines = ["timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional"]
    for i in range(len(t["ts"]) - 1, -1, -1):  # newest first, as Bybit's older files are
        lines.append(f"{t['ts'][i] / 1000:.4f},BTCUSD,{'Sell' if t['maker'][i] else 'Buy'},{int(t['qty'][i] * 1000)},"
                     f"{t['price'][i]},PlusTick,uuid-{t['id'][i]},1,1,1")
    server.files[f"/trading/BTCUSD/BTCUSD{DAYS[0]}.csv.gz"] = gzip.compress(("\n".join(lines) + "\n").encode())
    rep = download("bybit", "BTCUSD", DAYS[0], DAYS[0], cache_dir=tmp_path, progress=False)
    (got,) = cache.open_days("bybit", "BTCUSD", DAYS[0], DAYS[0], cache_dir=tmp_path)
    assert rep.fetched == ["2024-03-01"] and np.array_equal(got.ts, t["ts"])
    assert np.array_equal(got.qty, np.array([int(q * 1000) for q in t["qty"]], float))
    with pytest.raises(DataError, match="not archived yet"):
        download("bybit", "BTCUSD", DAYS[1], DAYS[1], cache_dir=tmp_path, progress=False, rate_limit=False)
    c = make_candles(DAYS[1], 3)
    # ccxt reads an inverse market's volume from `turnover` (coin), the last field
    server.bybit_klines = {int(ts): [str(ts), str(o), str(h), str(lo), str(cl), "0", str(v)] for ts, o, h, lo, cl, v in
                           zip(c["ts"], c["open"], c["high"], c["low"], c["close"], c["volume"])}
    download("bybit", "BTCUSD", DAYS[1], DAYS[1], kind="candles", cache_dir=tmp_path, progress=False, rate_limit=False)
    (day,) = cache.open_days("bybit", "BTCUSD", DAYS[1], DAYS[1], kind="candles", cache_dir=tmp_path)
    for k in c:
        assert np.array_equal(getattr(day, k), c[k]), k


def test_market_specs_fetched_online_are_cached_beside_the_data(binance, tmp_path):
    binance.min_notional = "50"  # differs from the shipped snapshot (100)
    spec = market_spec("binance", "BTCUSDT", tmp_path, online=True)
    assert (spec.price_step, spec.qty_step, spec.min_qty, spec.min_cost, spec.inverse) == (0.1, 0.001, 0.001, 50.0, False)
    assert json.loads((tmp_path / "markets" / "binance.json").read_text())["markets"]["BTCUSDT"]["min_cost"] == 50.0
    assert market_spec("binance", "BTCUSDT", tmp_path).min_cost == 50.0  # offline: the cached copy wins
    assert market_spec("binance", "BTCUSDT", tmp_path / "elsewhere").min_cost == 100.0  # the snapshot


def test_cli_download(binance, tmp_path):
    r = CliRunner().invoke(main, ["download", "binance", "BTCUSDT", "--start", "2024-03-01", "--end", "2024-03-02",
                                  "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "fetched 2 day(s), 5,200 rows; 0 already cached" in r.output and "market specs refreshed" in r.output
    r = CliRunner().invoke(main, ["download", "kraken", "XBTUSD", "--start", "2024-03-01", "--end", "2024-03-02",
                                  "--cache-dir", str(tmp_path)])
    assert r.exit_code == 1 and "downloads support binance, bybit" in r.output
