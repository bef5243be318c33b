// passivx monitor page: fetches /api/instances and each instance's details every REFRESH_MS and draws
// them. Every value is inserted as text (never as HTML): a state or log line cannot inject markup.
"use strict";
const REFRESH_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
const num = (x, d = 6) => (x === null || x === undefined) ? "-" : Number(x).toPrecision(d).replace(/\.?0+(e|$)/, "$1");
const pct = (x) => (x === null || x === undefined) ? "-" : (100 * x).toFixed(2) + " %";
const time = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
const age = (s) => s < 120 ? `${s.toFixed(0)} s ago` : s < 7200 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
const signed = (x) => el("span", {class: x > 0 ? "pos" : x < 0 ? "neg" : ""}, num(x));

function position(s) {
  const out = [];
  for (const side of ["long", "short"]) {
    const p = s.positions[side];
    if (p.size) out.push(`${side} ${num(Math.abs(p.size), 8)} @ ${num(p.price, 8)}`);
  }
  return out.join(", ") || "flat";
}

function fields(s) {
  const p = s.positions, c = s.connection, liq = s.liquidation;
  const rows = [
    ["Price", `${num(s.price, 8)} (bid ${num(s.best_bid, 8)} / ask ${num(s.best_ask, 8)})`],
    ["Position", position(s)],
    ["Balance", `${num(s.balance, 8)} ${s.coin}`],
    ["Equity", `${num(s.equity, 8)} ${s.coin}`],
    ["Unrealised PnL", signed(s.unrealized_pnl)],
    ["Wallet exposure L / S", `${num(p.long.wallet_exposure, 3)} / ${num(p.short.wallet_exposure, 3)}`],
    ["Liquidation", liq.price ? `${num(liq.price, 8)} (${pct(liq.distance)} away)` : "none"],
    ["Open orders", `${s.open_orders.length}` + (s.foreign_orders ? ` (+${s.foreign_orders} not the bot's)` : "")],
    ["Realised PnL today", signed(s.pnl.realized_today)],
    ["Realised PnL since start", signed(s.pnl.realized_total)],
    ["Fees today / since start", `${num(s.pnl.fees_today)} / ${num(s.pnl.fees_total)}`],
    ["Fills today / since start", `${s.pnl.fills_today} / ${s.pnl.fills_total}`],
    ["Errors / warnings (1 h)", `${s.errors.last_hour} / ${s.errors.warnings_last_hour}`],
    ["Connection", c.trading ? `trading (reconnects ${c.reconnects})` : `not trading: ${c.paused || "starting"}`],
    ["Heartbeat", age(s.heartbeat_age_s)],
    ["Started", `${time(s.started_ms)} (pid ${s.pid} on ${s.host})`],
  ];
  return el("dl", {class: "fields"}, rows.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
}

// A line chart: series [{pts: [[t, v]], color, right}] and horizontal lines [{y, color, label, dash}].
function chart(title, series, hlines, height = 240) {
  const W = 640, H = height, L = 64, R = 64, T = 22, B = 22;
  const box = sv("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title});
  box.append(sv("text", {x: L, y: 14}, title));
  const all = series.flatMap((s) => s.pts);
  if (all.length === 0) { box.append(sv("text", {x: W / 2 - 40, y: H / 2}, "no data yet")); return box; }
  let t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  if (t1 - t0 < 60000) t0 = t1 - 60000;
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const scale = (vals) => {
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) { lo -= Math.abs(lo) * 0.001 || 1; hi += Math.abs(hi) * 0.001 || 1; }
    const pad = (hi - lo) * 0.06;
    return [lo - pad, hi + pad];
  };
  const left = series.filter((s) => !s.right), right = series.filter((s) => s.right);
  const ly = scale(left.flatMap((s) => s.pts.map((p) => p[1])).concat(hlines.map((h) => h.y)));
  const ry = right.length ? scale(right.flatMap((s) => s.pts.map((p) => p[1]))) : ly;
  const y = (v, r) => { const [lo, hi] = r ? ry : ly; return T + (H - T - B) * (1 - (v - lo) / (hi - lo)); };
  for (let i = 0; i <= 4; i++) {
    const v = ly[0] + (ly[1] - ly[0]) * i / 4, yy = y(v, false);
    box.append(sv("line", {x1: L, x2: W - R, y1: yy, y2: yy, stroke: "#222a33"}));
    box.append(sv("text", {x: 4, y: yy + 4}, num(v, 7)));
    if (right.length) box.append(sv("text", {x: W - R + 6, y: y(ry[0] + (ry[1] - ry[0]) * i / 4, true) + 4}, num(ry[0] + (ry[1] - ry[0]) * i / 4, 5)));
  }
  box.append(sv("text", {x: L, y: H - 6}, time(t0).slice(11, 16)));
  box.append(sv("text", {x: W - R - 30, y: H - 6}, time(t1).slice(11, 16)));
  const labelled = [];
  for (const h of hlines) {
    const yy = y(h.y, false);
    box.append(sv("line", {x1: L, x2: W - R, y1: yy, y2: yy, stroke: h.color, "stroke-dasharray": h.dash || "", "stroke-width": 1}));
    if (labelled.every((u) => Math.abs(u - yy) >= 11)) {  // no label over another
      labelled.push(yy);
      box.append(sv("text", {x: W - R + 4, y: yy + 4, fill: h.color}, h.label));
    }
  }
  for (const s of series) {
    const d = s.pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1], s.right).toFixed(1)}`).join("");
    box.append(sv("path", {d, fill: "none", stroke: s.color, "stroke-width": 1.6}));
  }
  const legend = series.map((s) => s.name).join(" · ");
  box.append(sv("text", {x: L + 220, y: 14}, legend));
  return box;
}

function charts(s) {
  const now = [s.heartbeat_ms, s.price, s.equity, s.positions.long.size, s.positions.short.size];
  const hist = (s.history || []).concat(s.price > 0 ? [now] : []);
  const hl = s.open_orders.map((o) => ({y: o.price, color: o.side === "buy" ? "#3fb950" : "#f85149", dash: "4 3",
                                        label: `${o.side} ${num(o.qty, 4)}`}));
  for (const side of ["long", "short"]) {
    const p = s.positions[side];
    if (p.size) hl.push({y: p.price, color: "#58a6ff", dash: "1 2", label: `${side} entry`});
  }
  const pos = hist.map((p) => [p[0], p[3] + p[4]]);
  return el("div", {class: "charts"},
    chart("price and open orders (last day)", [{name: "price", pts: hist.map((p) => [p[0], p[1]]), color: "#d8dee6"}], hl),
    chart("equity and position (last day)", [
      {name: "equity", pts: hist.map((p) => [p[0], p[2]]), color: "#d29922"},
      {name: "position (right axis)", pts: pos, color: "#58a6ff", right: true}], []));
}

function table(head, rows) {
  if (!rows.length) return el("p", {class: "dim"}, "none");
  return el("div", {class: "scroll"}, el("table", {}, el("tr", {}, head.map((h) => el("th", {}, h))),
                                         rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
}

function card(s) {
  const danger = s.dangers.length > 0;
  const fills = s.last_fills.slice().reverse().map((f) => [time(f.ts_ms).slice(11), el("span", {class: f.side}, f.side),
    `${f.kind} ${f.position_side}`, num(f.price, 8), num(f.qty), f.realized_pnl ? signed(f.realized_pnl) : "", num(f.fee)]);
  const orders = s.open_orders.map((o) => [el("span", {class: o.side}, o.side), `${o.kind} ${o.position_side}`,
    num(o.price, 8), num(o.qty), o.reduce_only ? "reduce-only" : ""]);
  return el("section", {class: "card" + (danger ? " danger" : ""), "data-instance": `${s.exchange}/${s.instance}`},
    el("div", {class: "title"}, el("span", {class: `badge ${s.status}`}, s.status),
       el("h2", {}, `${s.exchange} / ${s.instance}`), el("span", {class: "symbol"}, s.symbol),
       el("span", {class: "dim"}, `${s.mode} · ${s.strategy}${s.testnet ? " · testnet" : ""}`)),
    danger ? el("p", {class: "dangers"}, "⚠ " + s.dangers.join("; ")) : null,
    fields(s), el("h3", {}, "charts"), charts(s),
    el("div", {class: "cols"},
       el("div", {}, el("h3", {}, "recent fills"), table(["time", "side", "kind", "price", "qty", "PnL", "fee"], fills)),
       el("div", {}, el("h3", {}, "open orders"), table(["side", "kind", "price", "qty", ""], orders))),
    el("h3", {}, "log"), el("pre", {}, (s.log_tail || []).join("\n")));
}

async function refresh() {
  const stamp = document.getElementById("updated");
  try {
    const get = async (url) => { const r = await fetch(url); if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`); return r.json(); };
    const list = await get("/api/instances");
    const full = await Promise.all(list.map((s) => get(`/api/instances/${encodeURIComponent(s.exchange)}/${encodeURIComponent(s.instance)}`)));
    const main = document.getElementById("instances");
    main.replaceChildren(...(full.length ? full.map(card) : [el("p", {class: "empty"}, "no bots under state/ yet")]));
    for (const pre of main.querySelectorAll("pre")) pre.scrollTop = pre.scrollHeight;  // the latest log lines
    stamp.textContent = `updated ${new Date().toLocaleTimeString()} · ${full.length} bot(s)`;
  } catch (e) {
    stamp.textContent = `update failed: ${e.message}`;
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
