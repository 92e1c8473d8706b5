// algo-trade dashboard: draws the charts of a page from its /api/ data and keeps bot rows live.
// No inline script anywhere (the Content-Security-Policy forbids it); text goes in with textContent only.
"use strict";
(function () {
  const LWC = window.LightweightCharts;
  const C = {
    bg: "#161d26", text: "#c3cfdb", grid: "#202a36", up: "#26a69a", down: "#ef5350",
    equity: "#4c9aff", hold: "#7b8794", dd: "#ef5350", amber: "#f0b429",
    averages: ["#f0b429", "#ff8a65", "#b085f5", "#4dd0e1", "#e0e0e0"],
  };

  function chartOptions(el) {
    return {
      width: el.clientWidth,
      height: el.clientHeight,
      autoSize: true,
      layout: { background: { type: "solid", color: C.bg }, textColor: C.text, attributionLogo: true,
        panes: { separatorColor: "#2b3846", enableResize: false } },
      grid: { vertLines: { color: C.grid }, horzLines: { color: C.grid } },
      rightPriceScale: { borderColor: "#2b3846" },
      timeScale: { borderColor: "#2b3846", timeVisible: true, secondsVisible: false },
      crosshair: { mode: 0 },
    };
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.message : response.status + " " + response.statusText;
      throw new Error(message);
    }
    return body;
  }

  function points(series) {
    const out = [];
    for (let i = 0; i < series.t.length; i++) {
      if (series.v[i] !== null) out.push({ time: series.t[i], value: series.v[i] });
    }
    return out;
  }

  function candles(c) {
    const out = new Array(c.t.length);
    for (let i = 0; i < c.t.length; i++) out[i] = { time: c.t[i], open: c.o[i], high: c.h[i], low: c.l[i], close: c.c[i] };
    return out;
  }

  function tradeMarkers(markers) {
    return markers.map((m) => {
      const colour = m.outcome === "win" ? C.up : m.outcome === "loss" ? C.down : C.amber;
      if (m.kind === "entry") {
        const long = m.side === "long";
        return { time: m.t, position: long ? "belowBar" : "aboveBar", shape: long ? "arrowUp" : "arrowDown", color: colour, text: "", size: 1.6 };
      }
      return { time: m.t, position: m.side === "long" ? "aboveBar" : "belowBar", shape: "circle", color: colour, text: "", size: 1.1 };
    });
  }

  function fillMarkers(markers) {
    return markers.map((m) => {
      const buy = m.side === "long";
      return { time: m.t, position: buy ? "belowBar" : "aboveBar", shape: buy ? "arrowUp" : "arrowDown", color: buy ? C.up : C.down, text: m.kind === "exit" ? "exit" : "in", size: 1.6 };
    });
  }

  function note(kind, text, mismatch) {
    const el = document.querySelector('[data-chart-note="' + kind + '"]');
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("mismatch", Boolean(mismatch));
  }

  function reductionText(downsampled) {
    const parts = [];
    for (const [name, r] of Object.entries(downsampled || {})) {
      if (r) parts.push(name + ": " + r.points + " of " + r.source_points + " points (" + r.method + ")");
    }
    return parts.length ? " Downsampled: " + parts.join("; ") + "." : "";
  }

  function priceFormat(values) {
    const sample = values.find((v) => v !== null && v > 0) || 1;
    const precision = sample >= 1000 ? 1 : sample >= 10 ? 2 : sample >= 1 ? 4 : 6;
    return { type: "price", precision: precision, minMove: Math.pow(10, -precision) };
  }

  function drawCandles(chart, data) {
    const series = chart.addSeries(LWC.CandlestickSeries, {
      upColor: C.up, downColor: C.down, borderVisible: false, wickUpColor: C.up, wickDownColor: C.down,
      priceFormat: priceFormat(data.candles.c),
    });
    series.setData(candles(data.candles));
    return series;
  }

  function drawToken(el, data) {
    if (!data.available) { note("token", "No chart: " + data.reason + "."); return false; }
    const chart = LWC.createChart(el, chartOptions(el));
    const price = drawCandles(chart, data);
    data.averages.forEach((a, i) => {
      const line = chart.addSeries(LWC.LineSeries, { color: C.averages[i % C.averages.length], lineWidth: 1,
        priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, title: a.name.split(" ")[1] });
      line.setData(points(a));
    });
    LWC.createSeriesMarkers(price, tradeMarkers(data.markers));
    const hold = chart.addSeries(LWC.LineSeries, { color: C.hold, lineWidth: 1, priceLineVisible: false, title: "buy & hold" }, 1);
    hold.setData(points(data.buy_hold));
    const equity = chart.addSeries(LWC.LineSeries, { color: C.equity, lineWidth: 2, priceLineVisible: false, title: "equity" }, 1);
    equity.setData(points(data.equity));
    const dd = chart.addSeries(LWC.AreaSeries, { lineColor: C.dd, topColor: "rgba(239,83,80,0.05)", bottomColor: "rgba(239,83,80,0.45)",
      lineWidth: 1, priceLineVisible: false, invertFilledArea: true, title: "drawdown",
      priceFormat: { type: "percent" } }, 2);
    dd.setData(points({ t: data.drawdown.t, v: data.drawdown.v.map((v) => (v === null ? null : -100 * v)) }));
    const panes = chart.panes();
    if (panes.length === 3) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1.3); panes[2].setStretchFactor(0.8); }
    chart.timeScale().fitContent();
    const r = data.rerun;
    note("token", r.note + ". " + (r.matches_stored ? "It reproduces the stored result (" + r.rerun.num_trades + " trades)."
      : "It does NOT reproduce the stored result: stored " + r.stored.num_trades + " trades, re-run " + r.rerun.num_trades
        + " (candles stored later inside the window change it).") + reductionText(data.downsampled), !r.matches_stored);
    fillTrades(data.trades);
    return true;
  }

  function fillTrades(trades) {
    const body = document.querySelector('[data-trades="token"] tbody');
    if (!body) return;
    const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(2) : v.toPrecision(6));
    for (const t of trades.slice().reverse()) {
      const row = body.insertRow();
      const cells = [t.side, t.entry_time.slice(0, 16).replace("T", " "), t.exit_time.slice(0, 16).replace("T", " "),
        fmt(t.entry_price), fmt(t.exit_price), (t["return"] * 100).toFixed(2) + " %", t.pnl.toFixed(2), t.exit_reason];
      cells.forEach((text, i) => {
        const cell = row.insertCell();
        cell.textContent = text;
        if (i >= 3 && i <= 6) cell.className = "r";
        if (i === 5 || i === 6) cell.classList.add(t.pnl > 0 ? "ok" : "bad");
      });
    }
    if (!trades.length) { const cell = body.insertRow().insertCell(); cell.colSpan = 8; cell.textContent = "No closed trade in that window."; }
  }

  function drawBot(el, data) {
    if (!data.available) { note("bot", "No chart: " + data.reason + "."); return false; }
    const chart = LWC.createChart(el, chartOptions(el));
    const price = drawCandles(chart, data);
    LWC.createSeriesMarkers(price, fillMarkers(data.markers));
    const equity = chart.addSeries(LWC.LineSeries, { color: C.equity, lineWidth: 2, priceLineVisible: false, title: "equity" }, 1);
    equity.setData(points(data.equity));
    const panes = chart.panes();
    if (panes.length === 2) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1.2); }
    chart.timeScale().fitContent();
    note("bot", data.fills_in_range + " fill(s) in " + data.range.start.slice(0, 16) + " → " + data.range.end.slice(0, 16)
      + (data.range.clipped ? " (its last days only)" : "") + ". " + data.equity_note + "." + reductionText(data.downsampled));
    return true;
  }

  function drawHistory(el, data) {
    const rows = data.history;
    if (!rows.length) return false;
    const chart = LWC.createChart(el, Object.assign(chartOptions(el), { leftPriceScale: { visible: true, borderColor: "#2b3846" } }));
    const seen = new Set();
    const sharpe = [];
    const ret = [];
    for (const h of rows) {
      const t = Math.floor(Date.parse(h.window_end) / 1000);
      if (seen.has(t)) continue; // one point per window end: the newest stored result wins below
      seen.add(t);
      sharpe.push({ time: t, value: h.sharpe_ratio });
      ret.push({ time: t, value: 100 * h.total_return });
    }
    const s = chart.addSeries(LWC.LineSeries, { color: C.amber, lineWidth: 2, priceScaleId: "left", title: "Sharpe", priceLineVisible: false });
    s.setData(sharpe);
    const r = chart.addSeries(LWC.LineSeries, { color: C.equity, lineWidth: 1, priceScaleId: "right", title: "return %", priceLineVisible: false,
      priceFormat: { type: "percent" } });
    r.setData(ret);
    chart.timeScale().fitContent();
    return true;
  }

  function drawWalkforward(el, data) {
    if (!data.selection.t.length) { note("walkforward", "No chart: the study stored no curve."); return false; }
    const chart = LWC.createChart(el, Object.assign(chartOptions(el), { leftPriceScale: { visible: true, borderColor: "#2b3846" } }));
    const pct = { type: "custom", formatter: (v) => (v >= 0 ? "+" : "") + v.toFixed(1) + " %" };
    const asPct = (s) => ({ t: s.t, v: s.v.map((v) => (v === null ? null : 100 * v)) });
    const add = (series, options, pane) => {
      const s = chart.addSeries(LWC.LineSeries, Object.assign({ priceLineVisible: false, lastValueVisible: false, priceFormat: pct }, options), pane || 0);
      s.setData(points(asPct(series)));
      return s;
    };
    add(data.buy_hold, { color: C.amber, lineWidth: 1, priceScaleId: "left", title: "buy & hold (left)" });
    if (data.random) {
      const step = { color: C.hold, lineType: 1, crosshairMarkerVisible: false };
      add(data.random.random_p05, Object.assign({ lineWidth: 1, lineStyle: 2, title: "random 5 %" }, step));
      add(data.random.random_p95, Object.assign({ lineWidth: 1, lineStyle: 2, title: "random 95 %" }, step));
      add(data.random.random_median, Object.assign({ lineWidth: 2, title: "random median" }, step));
    }
    add(data.universe, { color: C.equity, lineWidth: 1, title: "universe" });
    add(data.selection, { color: C.up, lineWidth: 2, lastValueVisible: true, title: "selection" });
    const ic = chart.addSeries(LWC.HistogramSeries, { priceLineVisible: false, lastValueVisible: false, title: "IC",
      priceFormat: { type: "price", precision: 2, minMove: 0.01 } }, 1);
    // Each period's IC as a block over the period (one bar per curve point), not a hairline at its start.
    const icAt = new Map(data.ic.map((p) => [p.t, p.v]));
    const bounds = data.boundaries;
    const blocks = [];
    let k = 0;
    for (const t of data.selection.t) {
      while (k + 1 < bounds.length - 1 && t > bounds[k + 1]) k++;
      const v = icAt.get(bounds[k]);
      if (v !== undefined) blocks.push({ time: t, value: v, color: v > 0 ? "rgba(38,166,154,0.7)" : "rgba(239,83,80,0.7)" });
    }
    ic.setData(blocks);
    const panes = chart.panes();
    if (panes.length === 2) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1); }
    chart.timeScale().fitContent();
    const stored = data.stored ? " The study stored each curve at " + data.stored.points + " of its " + data.stored.source_points
      + " bar closes (the last of each bucket)." : "";
    note("walkforward", data.ic.length + " period(s) with an IC" + (data.ic_missing ? ", " + data.ic_missing + " without (too few tokens to rank)" : "")
      + "." + stored + reductionText(data.downsampled));
    return true;
  }

  function drawLive(el, data) {
    if (!data.available) { note("live", "No chart: " + data.reason + "."); return false; }
    const chart = LWC.createChart(el, chartOptions(el));
    const pct = { type: "custom", formatter: (v) => (v >= 0 ? "+" : "") + v.toFixed(2) + " %" };
    const asPct = (s, sign) => ({ t: s.t, v: s.v.map((v) => (v === null ? null : (sign || 1) * 100 * v)) });
    const S = data.series;
    const quiet = { priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, priceFormat: pct };
    if (S.band_high) {
      // The band: the 95 % path filled down, the 5 % path filled down again in the background colour.
      const high = chart.addSeries(LWC.AreaSeries, Object.assign({ lineColor: "rgba(154,160,170,0.6)", topColor: "rgba(154,160,170,0.28)",
        bottomColor: "rgba(154,160,170,0.28)", lineWidth: 1, title: "envelope 95 %" }, quiet));
      high.setData(points(asPct(S.band_high)));
      const low = chart.addSeries(LWC.AreaSeries, Object.assign({ lineColor: "rgba(154,160,170,0.6)", topColor: C.bg,
        bottomColor: C.bg, lineWidth: 1, title: "envelope 5 %" }, quiet));
      low.setData(points(asPct(S.band_low)));
      const mid = chart.addSeries(LWC.LineSeries, Object.assign({ color: C.hold, lineWidth: 1, lineStyle: 2, title: "envelope median" }, quiet));
      mid.setData(points(asPct(S.band_mid)));
    }
    // The bot wide and under the backtest's thin dashed line: a bot that reconciles exactly shows both on one path.
    const bot = chart.addSeries(LWC.LineSeries, Object.assign({}, quiet, { color: C.up, lineWidth: 4, lastValueVisible: true, crosshairMarkerVisible: true, title: "bot" }));
    bot.setData(points(asPct(S.live)));
    const backtest = chart.addSeries(LWC.LineSeries, Object.assign({}, quiet, { color: C.equity, lineWidth: 2, lineStyle: 2, title: "backtest" }));
    backtest.setData(points(asPct(S.backtest)));
    const marks = data.gaps.map((g) => ({ time: g.start, position: "aboveBar", shape: "square", color: C.amber, text: g.bars + " missing", size: 1 }));
    if (data.diverges_at !== null) marks.push({ time: data.diverges_at, position: "aboveBar", shape: "arrowDown", color: C.down, text: "diverges", size: 1.4 });
    if (marks.length) LWC.createSeriesMarkers(bot, marks.sort((a, b) => a.time - b.time));
    const dd = chart.addSeries(LWC.LineSeries, Object.assign({}, quiet, { color: C.dd, lineWidth: 2, title: "bot drawdown" }), 1);
    dd.setData(points(asPct(S.drawdown, -1)));
    if (S.drawdown_limit) {
      const limit = chart.addSeries(LWC.LineSeries, Object.assign({}, quiet, { color: C.amber, lineWidth: 1, lineStyle: 2,
        title: "envelope " + Math.round(100 * data.drawdown_quantile) + " % drawdown" }), 1);
      limit.setData(points(asPct(S.drawdown_limit, -1)));
    }
    const panes = chart.panes();
    if (panes.length === 2) { panes[0].setStretchFactor(3); panes[1].setStretchFactor(1.2); }
    chart.timeScale().fitContent();
    note("live", data.note + "." + reductionText(data.downsampled));
    return true;
  }

  const DRAW = { token: drawToken, bot: drawBot, live: drawLive, history: drawHistory, walkforward: drawWalkforward };

  async function drawAll() {
    for (const el of document.querySelectorAll("[data-chart]")) {
      const kind = el.dataset.chart;
      try {
        const data = await getJSON(el.dataset.src);
        el.dataset.rendered = DRAW[kind](el, data) ? "true" : "empty";
      } catch (err) {
        el.dataset.rendered = "error";
        note(kind, "The chart could not be loaded: " + err.message);
      }
    }
  }

  // --- live bot rows (server-sent events) ---------------------------------------------------------
  function fmtNum(v) { return v === null || v === undefined ? "–" : v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
  function fmtTime(v) { return v ? v.slice(0, 16).replace("T", " ") : "–"; }
  function fmtPos(p) { return p ? p.side + " " + Number(p.quantity.toPrecision(6)) + " @ " + Number(p.entry_price.toPrecision(6)) : "flat"; }

  function updateBots(bots) {
    for (const table of document.querySelectorAll("[data-live-bots]")) {
      for (const bot of bots) {
        const row = table.querySelector('tr[data-bot-id="' + CSS.escape(bot.bot_id) + '"]');
        if (!row) continue;
        const set = (field, text) => { const cell = row.querySelector('[data-field="' + field + '"]'); if (cell && cell.textContent !== text) { cell.textContent = text; cell.classList.add("changed"); } };
        set("position", fmtPos(bot.position));
        set("equity", fmtNum(bot.equity));
        set("realized_pnl", fmtNum(bot.realized_pnl));
        set("num_trades", String(bot.num_trades));
        set("last_candle_time", fmtTime(bot.last_candle_time));
        set("updated_at", fmtTime(bot.updated_at));
        const state = row.querySelector('[data-field="state"] .badge');
        if (state && state.textContent !== bot.state.replace("_", " ")) {
          state.textContent = bot.state.replace("_", " ");
          state.className = "badge " + bot.state;
        }
      }
      table.dataset.liveUpdates = String(Number(table.dataset.liveUpdates || 0) + 1);
    }
  }

  function live() {
    if (!document.querySelector("[data-live-bots]") || !window.EventSource) return;
    const banner = document.getElementById("db-status");
    const events = new EventSource("/api/stream");
    events.addEventListener("bots", (e) => updateBots(JSON.parse(e.data)));
    events.addEventListener("database", (e) => {
      const state = JSON.parse(e.data);
      banner.hidden = state.ok;
      banner.textContent = state.ok ? "" : "database unreachable: live updates paused";
    });
  }

  function start() {
    live();
    if (!LWC) { document.querySelectorAll("[data-chart]").forEach((el) => { el.dataset.rendered = "error"; }); return; }
    drawAll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
