// fixgw web console: reads the bridge with a read-only key, signing every request as docs/bridge.md says.
// The secret becomes a non-extractable WebCrypto HMAC key at sign-in and lives only in this page's memory.
// Peer-supplied text is put in the page with textContent only (never as HTML).
"use strict";

(() => {
  const SCHEME = "FIXGW-HMAC-SHA256";
  const CHANNELS = "orders,sessions,venues";
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  let keyId = null;
  let hmacKey = null;       // CryptoKey, not extractable
  let offsetMs = 0;         // the bridge's clock minus ours (from its Date header)
  let lastTs = 0;
  let socket = null;
  let lastEventId = null;
  let refreshTimer = null;
  let timers = [];
  let sessions = [];

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

  function nextTs() {  // strictly increasing: two requests never share a signature (a replay)
    lastTs = Math.max(Date.now() + offsetMs, lastTs + 1);
    return String(lastTs);
  }

  async function sign(ts, method, path, query, body) {
    const digest = hex(await crypto.subtle.digest("SHA-256", body || new Uint8Array()));
    const canonical = [SCHEME, keyId, ts, method, path, query, digest].join("\n");
    return hex(await crypto.subtle.sign("HMAC", hmacKey, enc.encode(canonical)));
  }

  async function signature(method, path, query, body) {
    const ts = nextTs();
    return { ts, sig: await sign(ts, method, path, query, body) };
  }

  function queryOf(params) {
    return Object.entries(params).map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
  }

  async function api(path, params) {
    const query = queryOf(params || {});
    const { ts, sig } = await signature("GET", path, query, null);
    const answer = await fetch(path + (query ? "?" + query : ""), {
      headers: { "X-FIXGW-KEY": keyId, "X-FIXGW-TIMESTAMP": ts, "X-FIXGW-SIGNATURE": sig },
      cache: "no-store", credentials: "omit",
    });
    const body = await answer.json().catch(() => null);
    if (!answer.ok) {
      const e = (body && body.error) || { code: "http_" + answer.status, message: answer.statusText };
      throw new Error(answer.status + " " + e.code + ": " + e.message);
    }
    return body;
  }

  async function pages(path, field, params, maxPages) {
    let rows = [];
    let cursor = null;
    for (let i = 0; i < maxPages; i++) {
      const page = await api(path, Object.assign({}, params, { limit: "1000" }, cursor ? { cursor } : {}));
      rows = rows.concat(page[field]);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return rows;
  }

  // -- rendering ---------------------------------------------------------------------------------

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function fill(tableId, rows, build) {
    const body = $(tableId).tBodies[0];
    const fresh = document.createElement("tbody");
    for (const row of rows) {
      const tr = document.createElement("tr");
      build(tr, row);
      fresh.appendChild(tr);
    }
    body.replaceWith(fresh);
  }

  function age(iso) {
    if (!iso) return "never";
    const s = Math.max(0, (Date.now() + offsetMs - Date.parse(iso)) / 1000);
    return s < 120 ? s.toFixed(0) + " s ago" : (s / 60).toFixed(0) + " min ago";
  }

  function renderSessions() {
    fill("sessions", sessions, (tr, s) => {
      tr.dataset.session = s.session_id;
      cell(tr, s.session_id);
      cell(tr, s.state, s.logged_on ? "good" : "");
      cell(tr, s.enabled ? "yes" : "disabled", s.enabled ? "" : "bad");
      cell(tr, s.next_sender_seq, "num");
      cell(tr, s.next_target_seq, "num");
      cell(tr, age(s.last_heartbeat_at));
      cell(tr, s.peer_address);
    });
  }

  function renderVenues(venues) {
    fill("venues", venues, (tr, v) => {
      tr.dataset.venue = v.name;
      cell(tr, v.name + (v.simulated ? " (simulated)" : ""));
      cell(tr, v.stream_state, v.connected ? "good" : "bad");
      cell(tr, v.stream_reconnects, "num");
      cell(tr, v.clock_offset_ms === null ? "" : Number(v.clock_offset_ms).toFixed(1) + " ms", "num");
      cell(tr, v.rate_limits.map((w) => `${w.window}: ${w.used}/${w.limit} (${w.headroom})`).join(", "));
      cell(tr, v.rate_limited_count, "num");
      cell(tr, v.banned_until || "", v.banned_until ? "bad" : "");
      cell(tr, v.last_error ? v.last_error.at + " " + v.last_error.message : "", v.last_error ? "bad" : "");
      cell(tr, v.api_key_expires ? `${v.api_key_expires} (${v.api_key_days_left} d)` : "");
    });
  }

  function renderOrders(orders) {
    $("orders-count").textContent = "(" + orders.length + ")";
    fill("orders", orders, (tr, o) => {
      tr.dataset.clientOrderId = o.client_order_id;
      tr.dataset.orderId = o.order_id;
      for (const v of [o.client_order_id, o.account, o.venue, o.symbol, o.side, o.type]) cell(tr, v);
      cell(tr, o.quantity || o.quote_quantity, "num");
      cell(tr, o.price, "num");
      cell(tr, o.cum_qty, "num");
      cell(tr, o.status);
      cell(tr, o.updated_at);
    });
  }

  function renderFills(fills) {
    fill("fills", fills.slice(-50).reverse(), (tr, f) => {
      for (const v of [f.executed_at, f.client_order_id, f.account, f.symbol, f.side]) cell(tr, v);
      cell(tr, f.last_qty, "num");
      cell(tr, f.last_px, "num");
      cell(tr, f.fee + " " + (f.fee_currency || ""), "num");
      cell(tr, f.liquidity);
    });
  }

  // -- latency: percentiles of the histograms in /metrics (unsigned; loopback by default) --------

  function parseLabels(text) {
    const labels = {};
    const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
    let m;
    while ((m = re.exec(text)) !== null) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    return labels;
  }

  function quantile(q, buckets) {  // buckets: [[upper bound, cumulative count]] sorted, +Inf last
    const total = buckets[buckets.length - 1][1];
    if (!total) return null;
    const rank = q * total;
    let prevBound = 0, prevCount = 0;
    for (const [bound, count] of buckets) {
      if (count >= rank) {
        if (bound === Infinity) return prevBound;
        return prevBound + (bound - prevBound) * (count === prevCount ? 0 : (rank - prevCount) / (count - prevCount));
      }
      prevBound = bound; prevCount = count;
    }
    return prevBound;
  }

  function latencyRows(text) {
    const series = new Map();
    for (const line of text.split("\n")) {
      const m = /^(\w+)_bucket\{(.*)\}\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = parseLabels(m[2]);
      const le = labels.le === "+Inf" ? Infinity : Number(labels.le);
      delete labels.le;
      const id = m[1] + " " + JSON.stringify(labels);
      if (!series.has(id)) series.set(id, { name: m[1], labels, buckets: [] });
      series.get(id).buckets.push([le, Number(m[3])]);
    }
    const rows = [];
    for (const s of series.values()) {
      s.buckets.sort((a, b) => a[0] - b[0]);
      const count = s.buckets[s.buckets.length - 1][1];
      rows.push({ name: s.name, labels: s.labels, count,
                  p: [0.5, 0.95, 0.99].map((q) => quantile(q, s.buckets)) });
    }
    return rows;
  }

  const ms = (seconds) => (seconds === null ? "" : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + " ms");

  async function refreshLatency() {
    try {
      const answer = await fetch("/metrics", { cache: "no-store", credentials: "omit" });
      if (!answer.ok) {
        $("latency-note").textContent = "/metrics is not served to this address (the bridge's metrics_networks)";
        return;
      }
      const rows = latencyRows(await answer.text());
      $("latency-note").textContent = rows.length ? "percentiles of the bridge's histograms (/metrics)" :
        "no latency histogram yet";
      fill("latency", rows, (tr, r) => {
        cell(tr, r.name);
        cell(tr, Object.entries(r.labels).map(([k, v]) => k + "=" + v).join(" "));
        cell(tr, r.count, "num");
        for (const p of r.p) cell(tr, ms(p), "num");
      });
    } catch (e) {
      $("latency-note").textContent = "latency unavailable: " + e.message;
    }
  }

  // -- data ----------------------------------------------------------------------------------------

  async function refreshOrders() {
    try {
      const [orders, fills] = await Promise.all([
        pages("/v1/orders", "orders", { status: "open" }, 5), pages("/v1/fills", "fills", {}, 3)]);
      renderOrders(orders);
      renderFills(fills);
      $("error").textContent = "";
    } catch (e) {
      $("error").textContent = "orders: " + e.message;
    }
  }

  function scheduleOrders() {
    if (refreshTimer === null) refreshTimer = setTimeout(() => { refreshTimer = null; refreshOrders(); }, 300);
  }

  function logEvent(text) {
    const li = document.createElement("li");
    li.textContent = text;
    const list = $("events");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 200) list.removeChild(list.lastChild);
  }

  function setState(text, cls) {
    $("stream-state").textContent = text;
    $("stream-state").className = "state " + cls;
  }

  async function openStream() {
    if (!hmacKey) return;
    const path = "/v1/stream";
    const base = { channels: CHANNELS };
    if (lastEventId !== null) base.since = String(lastEventId);
    // A browser cannot set headers on a WebSocket: the signature goes in the query, last (auth.py).
    const query = queryOf(base) + "&fixgw_key=" + encodeURIComponent(keyId) + "&fixgw_timestamp=" + nextTs();
    const signed = await sign(String(lastTs), "GET", path, query, null);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${path}?${query}&fixgw_signature=${signed}`);
    socket = ws;
    setState("connecting", "warn");
    ws.onopen = () => setState("live", "live");
    ws.onmessage = (msg) => {
      let m;
      try { m = JSON.parse(msg.data); } catch (e) { return; }
      if (m.type === "hello") {
        if (lastEventId === null) lastEventId = m.last_id;
        $("last-id").textContent = "last event " + m.last_id;
        scheduleOrders();
      } else if (m.type === "event") {
        lastEventId = m.id;
        $("last-id").textContent = "last event " + m.id;
        logEvent(`#${m.id} ${m.kind} ${m.account} ${m.order_id}`);
        scheduleOrders();
      } else if (m.type === "sessions") {
        sessions = m.sessions;
        renderSessions();
      } else if (m.type === "venues") {
        renderVenues(m.venues);
      }
    };
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = null;
      if (!hmacKey) return;
      setState("reconnecting" + (ev.reason ? " (" + ev.reason + ")" : ""), "warn");
      if (ev.reason === "since_too_old") lastEventId = null;
      setTimeout(openStream, 2000);
    };
  }

  async function signIn(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    if (!window.crypto || !crypto.subtle) {
      $("login-error").textContent = "WebCrypto needs a secure context: open the console over HTTPS (the " +
        "bridge's tls setting) or on 127.0.0.1 (an SSH tunnel).";
      return;
    }
    const secretInput = $("login-secret");
    keyId = $("login-key").value.trim();
    hmacKey = await crypto.subtle.importKey("raw", enc.encode(secretInput.value), { name: "HMAC", hash: "SHA-256" },
                                            false, ["sign"]);
    secretInput.value = "";
    try {
      const probe = await fetch("/healthz", { cache: "no-store" });
      const served = Date.parse(probe.headers.get("Date") || "");
      if (!Number.isNaN(served) && Math.abs(served - Date.now()) > 2000) offsetMs = served - Date.now();
      const first = await api("/v1/sessions");
      sessions = first.sessions;
      renderSessions();
      renderVenues((await api("/v1/venues")).venues);
    } catch (e) {
      hmacKey = null;
      $("login-error").textContent = "sign-in failed: " + e.message;
      return;
    }
    $("login-panel").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = "key " + keyId;
    await refreshOrders();
    await refreshLatency();
    timers = [setInterval(renderSessions, 1000), setInterval(refreshLatency, 5000),
              setInterval(() => { if (socket && socket.readyState === 1) socket.send('{"type":"ping"}'); }, 10000)];
    openStream();
  }

  function signOut() {
    hmacKey = null;
    keyId = null;
    timers.forEach(clearInterval);
    if (socket) { const s = socket; socket = null; s.close(); }
    $("board").hidden = true;
    $("login-panel").hidden = false;
    $("logout").hidden = true;
    $("who").textContent = "";
    setState("signed out", "off");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", signIn);
    $("logout").addEventListener("click", signOut);
  });
})();
