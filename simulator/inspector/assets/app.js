// The inspector: plain JavaScript over the simulator's admin API and its live stream (/_sim/stream). Every value
// from a request is put on the page as text, never as markup.
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
const PAGE = 100;
let info = {};
let stream = null;
let paused = false;
let held = [];
let picked = -1;

// h builds an element: h("td", {class: "mono"}, "text", child...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function params() { return new URLSearchParams(location.search); }

// go changes the address (filters are in it, so a link shares the view) and draws the view.
function go(p, replace) {
  const q = p.toString();
  const url = location.pathname + (q ? "?" + q : "");
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  draw();
}

// api calls the simulator's own API; what changes state says it is JSON, as the API requires of it.
async function api(path, opts) {
  opts = opts || {};
  if (opts.method && opts.method !== "GET") {
    opts.headers = Object.assign({ "Content-Type": "application/json" }, opts.headers);
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let body;
  try { body = text ? JSON.parse(text) : {}; } catch { body = { error: text }; }
  if (!res.ok) throw new Error(body.error || res.status + " " + res.statusText);
  return body;
}

function time(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleTimeString(undefined, { hour12: false }) + "." +
    String(d.getMilliseconds()).padStart(3, "0");
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text || ""; }
}

// show puts a view's parts on the page, leaving out the ones a condition left null.
function show(...parts) {
  main.replaceChildren(...parts.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

function errorBox(e) { return h("p", { class: "error", role: "alert" }, String(e.message || e)); }

// ---- requests ----

const FILTERS = ["account", "region", "outcome", "endpoint", "q"];
const OUTCOMES = ["accepted", "partial", "rejected", "unauthorized", "bad_request", "rate_limited", "fault",
  "not_found", "pending", "client_gone", "upstream_error"];
const REGIONS = ["eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"];

function filterQuery(p) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (p.get(k)) q.set(k, p.get(k));
  return q;
}

// carried says what an upload brought, as simulator tail does: its first event names (or record types) and
// identity; "" when the body is not an upload's.
function carried(e) {
  let d;
  try { d = JSON.parse(e.request_body || "").d; } catch { return ""; }
  if (!Array.isArray(d) || d.length === 0) return "";
  const names = d.slice(0, 3).map((r) => (r && (r.evtName || (r.type === "event" ? "(no evtName)" : r.type))) || "?");
  const who = d[0] && (d[0].identity || d[0].objectId);
  return names.join(", ") + (d.length > 3 ? " +" + (d.length - 3) : "") + (who ? " · " + who : "");
}

function requestRow(e) {
  const unprocessed = e.records ? (e.records.unprocessed || []) : [];
  const refused = unprocessed.length;
  const total = e.records ? e.records.total : "";
  // a partial upload's first refused record says why when the request as a whole has nothing to say
  const diag = (e.diagnosis || [])[0] || (unprocessed[0] ? "record " + (unprocessed[0].index + 1) + ": " +
    (unprocessed[0].diagnosis || unprocessed[0].error) : "");
  return h("tr", { "data-seq": e.seq, "data-time": e.received_at, "data-testid": "request-row",
    onclick: () => openRequest(e.seq) },
    h("td", { class: "mono", "data-label": "time" }, time(e.received_at)),
    h("td", { "data-label": "region" }, e.region || ""),
    h("td", { class: "mono", "data-label": "account" }, e.account || ""),
    h("td", { "data-label": "endpoint" }, e.endpoint, " ", h("span", { class: "muted mono" }, e.method + " " + e.path),
      carried(e) ? h("div", { class: "carried", "data-testid": "carried" }, carried(e)) : null),
    h("td", { "data-label": "status" }, String(e.status), " ", h("span", { class: "badge " + e.outcome }, e.outcome),
      e.proxied ? h("div", { class: "muted", "data-testid": "proxied" }, "real CleverTap, via the proxy") : null,
      e.drift ? h("span", { class: "badge drift", "data-testid": "drift", title: "the fake would have answered " +
        "otherwise" }, "drift: " + e.drift) : null),
    h("td", { "data-label": "records" }, e.records ? (e.records.processed + "/" + total) : ""),
    h("td", { "data-label": "refused", class: refused ? "refused" : "" }, refused ? String(refused) : ""),
    h("td", { class: "diag", "data-label": "diagnosis" }, diag));
}

function pianoRow(a) {
  const r = a.request;
  return h("tr", { "data-testid": "piano-row", onclick: () => go(new URLSearchParams({ view: "piano", site: r.site || "" })) },
    h("td", { class: "mono", "data-label": "time" }, time(r.received_at)),
    h("td", { "data-label": "region" }, "piano"),
    h("td", { class: "mono", "data-label": "site" }, r.site || ""),
    h("td", { "data-label": "endpoint" }, "collect ", h("span", { class: "muted mono" }, r.method + " " + r.path)),
    h("td", { "data-label": "status" }, String(r.status)),
    h("td", { "data-label": "records" }, r.accepted + " kept"),
    h("td", { "data-label": "ignored", class: r.ignored ? "refused" : "" }, r.ignored ? r.ignored + " ignored" : ""),
    h("td", { class: "diag", "data-label": "diagnosis" }, (r.diagnosis || [])[0] || ""));
}

async function viewRequests(p) {
  const form = h("form", { class: "filters", role: "search", onsubmit: (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams({ view: "requests" });
    for (const k of FILTERS) { const v = form.elements[k].value.trim(); if (v) next.set(k, v); }
    go(next);
  } },
    h("label", {}, "account", h("input", { name: "account", value: p.get("account") || "", size: 14 })),
    h("label", {}, "region", select("region", ["", ...REGIONS], p.get("region"))),
    h("label", {}, "outcome", select("outcome", ["", ...OUTCOMES], p.get("outcome"))),
    h("label", {}, "endpoint", select("endpoint", ["", "upload", "profile", "delete", "attribution", "events",
      "profiles", "counts", "now", "disassociate", "subscribe", "demerge", "unknown"], p.get("endpoint"))),
    h("label", {}, "user or text", h("input", { name: "q", value: p.get("q") || "", size: 22, "data-testid": "filter-q",
      placeholder: "identity, objectId, event…" })),
    h("button", { class: "primary", type: "submit", "data-testid": "filter-apply" }, "Filter"),
    h("button", { type: "button", "data-testid": "pause", onclick: togglePause }, paused ? "Resume" : "Pause"),
    h("span", { id: "held", class: "note" }));
  const tbody = h("tbody", { id: "rows" });
  const more = h("button", { type: "button", hidden: true }, "Older requests");
  main.replaceChildren(form, h("table", { "aria-label": "requests" },
    h("thead", {}, h("tr", {}, ["time", "region", "account", "endpoint", "status", "records", "refused", "diagnosis"]
      .map((c) => h("th", {}, c)))), tbody), h("p", {}, more));
  const filters = filterQuery(p);
  // The stream opens before the first page is read, so nothing that lands in between is missed; what it brings
  // before the page is drawn waits, and a request the page already shows (same seq) is not shown twice.
  const shown = new Set();
  let early = [];
  const key = (kind, v) => kind === "clevertap" ? "ct" + v.seq : "piano" + v.request.request_id;
  const add = (kind, v) => {
    if (shown.has(key(kind, v))) return;
    shown.add(key(kind, v));
    const row = kind === "clevertap" ? requestRow(v) : pianoRow(v);
    row.classList.add("fresh");
    tbody.prepend(row);
    if (picked >= 0) picked++;
  };
  listen(filters, (kind, v) => { if (early) early.push([kind, v]); else add(kind, v); });
  async function page(before) {
    const q = new URLSearchParams(filters);
    q.set("order", "newest"); q.set("limit", PAGE);
    if (before) q.set("before", before);
    const out = await api("/_sim/requests?" + q);
    for (const e of out.requests) {
      if (shown.has(key("clevertap", e))) continue;
      shown.add(key("clevertap", e));
      tbody.append(requestRow(e));
    }
    more.hidden = !out.next_before;
    more.onclick = () => page(out.next_before).catch((e) => main.append(errorBox(e)));
  }
  try {
    await page();
    if (!filters.toString()) {
      const piano = await api("/_sim/piano/requests");
      const calls = piano.requests.slice(-PAGE).map((r) => ({ request: r }));
      for (const a of calls) shown.add(key("piano", a));
      mergePiano(tbody, calls);
    }
  } catch (e) { main.append(errorBox(e)); }
  const waiting = early;
  early = null;
  for (const [kind, v] of waiting) add(kind, v);
}

// mergePiano puts the collector's calls among the CleverTap requests, by time.
function mergePiano(tbody, activity) {
  for (const a of activity) {
    const row = pianoRow(a);
    const at = new Date(a.request.received_at);
    const after = [...tbody.children].find((tr) => {
      const t = tr.dataset.time ? new Date(tr.dataset.time) : null;
      return t && t < at;
    });
    row.dataset.time = a.request.received_at;
    if (after) tbody.insertBefore(row, after); else tbody.append(row);
  }
}

function select(name, options, value) {
  return h("select", { name }, options.map((o) => h("option", { value: o, selected: o === (value || "") }, o || "any")));
}

// listen follows the live stream with the view's filters; while paused, arrivals wait.
function listen(filters, onEvent) {
  if (stream) stream.close();
  const q = new URLSearchParams(filters);
  stream = new EventSource("/_sim/stream?" + q);
  stream.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  stream.onerror = () => { live.textContent = "reconnecting"; live.className = "live off"; };
  const handle = (kind) => (ev) => {
    const v = JSON.parse(ev.data);
    if (paused) { held.push([kind, v]); showHeld(); return; }
    onEvent(kind, v);
  };
  stream.addEventListener("clevertap", handle("clevertap"));
  stream.addEventListener("piano", handle("piano"));
  stream.addEventListener("dropped", () => { live.textContent = "fell behind: reload"; live.className = "live off"; });
  listen.onEvent = onEvent;
}

function showHeld() {
  const el = document.getElementById("held");
  if (el) el.textContent = held.length ? held.length + " new while paused" : "";
}

function togglePause() {
  paused = !paused;
  const b = document.querySelector('[data-testid="pause"]');
  if (b) b.textContent = paused ? "Resume" : "Pause";
  if (!paused && listen.onEvent) { for (const [k, v] of held) listen.onEvent(k, v); held = []; }
  showHeld();
}

// ---- one request ----

function openRequest(seq) { go(new URLSearchParams({ view: "request", seq })); }

async function viewRequest(p) {
  const seq = Number(p.get("seq"));
  const out = await api("/_sim/requests?since=" + (seq - 1) + "&limit=1");
  const e = out.requests[0];
  if (!e || e.seq !== seq) { main.replaceChildren(errorBox(new Error("request " + seq + " is no longer in the journal"))); return; }
  const refused = new Map((e.records && e.records.unprocessed || []).map((u) => [u.index, u]));
  const warned = new Map();
  for (const w of (e.records && e.records.warnings) || []) {
    if (!warned.has(w.index)) warned.set(w.index, []);
    warned.get(w.index).push(w.warning);
  }
  let records = null;
  try { const body = JSON.parse(e.request_body); if (Array.isArray(body.d)) records = body.d; } catch { /* not JSON */ }
  const bodyView = records ? records.map((rec, i) => {
    const u = refused.get(i);
    const ws = warned.get(i) || [];
    return h("div", { class: "record" + (u ? " refused-record" : ws.length ? " warned-record" : ""),
      "data-testid": u ? "refused-record" : "record" },
      h("header", {}, "record " + (i + 1), u ? " — code " + u.code + ": " + u.error : ""),
      u && u.diagnosis ? h("p", { class: "diag", "data-testid": "record-diagnosis" }, "simulator: " + u.diagnosis) : null,
      ws.map((w) => h("p", { class: "diag", "data-testid": "record-warning" }, "simulator: " + w)),
      h("pre", {}, JSON.stringify(rec, null, 2)));
  }) : h("pre", {}, pretty(e.request_body) || "(no body)");
  // a record's warning shows beside the record: the request's notes do not say it a second time
  const inPlace = new Set(records ? ((e.records && e.records.warnings) || []).map((w) =>
    "record " + (w.index + 1) + ": " + w.warning) : []);
  const notes = (e.diagnosis || []).filter((d) => !inPlace.has(d));
  show(
    h("p", {}, h("a", { href: "?view=requests", onclick: (ev) => { ev.preventDefault(); history.back(); } }, "← requests")),
    h("div", { class: "card" },
      h("h2", {}, e.method + " " + e.path + (e.query ? "?" + e.query : "")),
      h("dl", { class: "kv" },
        h("dt", {}, "received"), h("dd", {}, new Date(e.received_at).toLocaleString() + " (" + e.received_at + ")"),
        h("dt", {}, "request id"), h("dd", {}, e.request_id),
        h("dt", {}, "host, region"), h("dd", {}, e.host + ", " + (e.region || "")),
        h("dt", {}, "account"), h("dd", {}, e.account || ""),
        h("dt", {}, "answer"), h("dd", {}, e.status + " " + e.outcome + (e.fault ? " (fault " + e.fault + ")" : "") +
          (e.proxied ? " (the real CleverTap's, through the lint proxy)" : "") +
          (e.drift ? " · drift: " + e.drift : "")),
        h("dt", {}, "took"), h("dd", {}, e.duration_ms + " ms"))),
    notes.length ? h("div", { class: "card" }, h("h3", {}, "What the simulator noticed"),
      h("ul", { "data-testid": "diagnosis" }, notes.map((d) => h("li", { class: "diag" }, d)))) : null,
    h("div", { class: "grid2" },
      h("div", {}, h("h3", {}, "Request"),
        h("dl", { class: "kv" }, Object.entries(e.request_headers || {}).sort().map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        bodyView),
      h("div", {}, h("h3", {}, "Response, exactly"), h("pre", { "data-testid": "response" }, pretty(JSON.stringify(e.response))))));
}

// ---- one user ----

async function viewUser(p) {
  const key = p.get("objectId") ? "objectId" : "identity";
  const form = h("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    go(new URLSearchParams({ view: "user", [form.elements.key.value]: form.elements.id.value.trim() }));
  } },
    h("label", {}, "by", select("key", ["identity", "objectId"], key)),
    h("label", {}, "id", h("input", { name: "id", value: p.get(key) || "", size: 30, "data-testid": "user-id" })),
    h("button", { class: "primary", type: "submit" }, "Show"));
  main.replaceChildren(form);
  const id = p.get(key);
  if (!id) { main.append(h("p", { class: "note" }, "An identity or objectId shows everything CleverTap holds for that user.")); return; }
  try {
    const out = await api("/_sim/users?" + new URLSearchParams({ [key]: id }));
    main.append(h("div", { class: "grid2" },
      h("div", {}, h("h3", {}, "Records, in the order they happened"),
        out.events.length ? h("table", {}, h("tbody", {}, out.events.map((e) => h("tr", { "data-testid": "user-event" },
          h("td", { class: "mono" }, new Date(e.time).toISOString().replace("T", " ").slice(0, 19)),
          h("td", {}, e.region + " " + e.account),
          h("td", {}, e.record.type === "event" ? e.record.evtName : e.record.type),
          h("td", { class: "mono" }, JSON.stringify(e.record.evtData || e.record.profileData || e.record.tokenData || {}))))))
          : h("p", { class: "note" }, "No record.")),
      h("div", {}, h("h3", {}, "Profile, as CleverTap shows it"),
        out.profiles.length ? out.profiles.map((pr) => h("div", { class: "card" }, h("h3", {}, pr.region + " " + pr.account),
          h("pre", { "data-testid": "profile" }, JSON.stringify(pr.record, null, 2)))) : h("p", { class: "note" }, "No profile."))));
  } catch (e) { main.append(errorBox(e)); }
}

// ---- Piano ----

async function viewPiano(p) {
  try {
    const [sites, hits] = await Promise.all([api("/_sim/piano/sites"), api("/_sim/piano/events?include_ignored=true")]);
    const only = p.get("site");
    main.replaceChildren(...sites.sites.filter((s) => !only || s.id === only).map((s) => {
      const mine = hits.events.filter((e) => e.site === s.id).reverse();
      const ignored = mine.filter((e) => e.ignored).length;
      return h("div", { class: "card", "data-testid": "piano-site" },
        h("h2", {}, "site " + s.id + " on " + s.domain),
        h("p", { class: "note" }, mine.length + " hits, " + ignored + " ignored; declared events: " + (s.events || []).join(", ")),
        h("table", {}, h("tbody", {}, mine.slice(0, 500).map((e) => h("tr", {},
          h("td", { class: "mono" }, time(e.received_at)),
          h("td", { class: "mono" }, e.idclient),
          h("td", {}, e.name),
          h("td", { class: e.ignored ? "refused" : "" }, e.ignored ? "ignored: " + e.reason : "kept"),
          h("td", { class: "mono" }, (e.unexpected_properties || []).length ? "unexpected: " + e.unexpected_properties.join(", ") : ""))))));
    }));
  } catch (e) { main.replaceChildren(errorBox(e)); }
}

// ---- faults ----

async function viewFaults() {
  const form = h("form", { class: "filters", "data-testid": "fault-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const fault = { action: f.action.value };
    for (const k of ["status", "delay_ms", "times"]) if (f[k].value) fault[k] = Number(f[k].value);
    if (f.probability.value) fault.probability = Number(f.probability.value);
    for (const k of ["account", "region", "endpoint", "body"]) if (f[k].value) fault[k] = f[k].value;
    if (f.after_processing.checked) fault.after_processing = true;
    try {
      await api("/_sim/faults", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(fault) });
      draw();
    } catch (e) { main.append(errorBox(e)); }
  } },
    h("label", {}, "action", select("action", ["respond", "delay", "reset", "malformed"], "respond")),
    h("label", {}, "status", h("input", { name: "status", type: "number", value: "503", size: 5 })),
    h("label", {}, "delay ms", h("input", { name: "delay_ms", type: "number", size: 6 })),
    h("label", {}, "times", h("input", { name: "times", type: "number", size: 4, value: "1" })),
    h("label", {}, "probability", h("input", { name: "probability", type: "number", step: "0.01", min: 0, max: 1, size: 4 })),
    h("label", {}, "account", h("input", { name: "account", size: 14 })),
    h("label", {}, "region", select("region", ["", ...REGIONS], "")),
    h("label", {}, "endpoint", select("endpoint", ["", "upload", "profile", "delete", "attribution", "events", "profiles",
      "counts", "now", "disassociate", "subscribe", "demerge"], "")),
    h("label", {}, "body", h("textarea", { name: "body", rows: 1, cols: 20 })),
    h("label", {}, "after processing", h("input", { name: "after_processing", type: "checkbox" })),
    h("button", { class: "primary", type: "submit", "data-testid": "fault-add" }, "Add fault"));
  const list = h("tbody");
  main.replaceChildren(h("h2", {}, "Faults"), form, h("table", { "aria-label": "faults" },
    h("thead", {}, h("tr", {}, ["id", "action", "status", "times", "scope", ""].map((c) => h("th", {}, c)))), list),
  h("p", { class: "bar" },
    h("button", { type: "button", onclick: async () => { await api("/_sim/faults", { method: "DELETE" }); draw(); } }, "Remove all faults"),
    h("button", { type: "button", class: "danger", "data-testid": "reset", onclick: async () => {
      if (!confirm("Reset clears every record, profile, journal entry, fault and Piano hit. Accounts stay. Reset?")) return;
      await api("/_sim/reset", { method: "POST" }); draw();
    } }, "Reset the simulator…")));
  try {
    const out = await api("/_sim/faults");
    for (const f of out.faults) {
      list.append(h("tr", { "data-testid": "fault-row" },
        h("td", { class: "mono" }, f.id), h("td", {}, f.action), h("td", {}, f.status || ""),
        h("td", {}, f.times ? (f.times + " left") : "until removed"),
        h("td", {}, [f.account, f.region, f.endpoint].filter(Boolean).join(" ") || "everything"),
        h("td", {}, h("button", { type: "button", onclick: async () => {
          await api("/_sim/faults/" + encodeURIComponent(f.id), { method: "DELETE" }); draw();
        } }, "Remove"))));
    }
    if (!out.faults.length) list.append(h("tr", {}, h("td", { colspan: 6, class: "note" }, "No fault: CleverTap answers normally.")));
  } catch (e) { main.append(errorBox(e)); }
}

// ---- relay ----

function relayToken() { return sessionStorage.getItem("relayToken") || (info.relay && info.relay.dev_token) || ""; }

async function viewRelay() {
  if (!info.relay) {
    main.replaceChildren(h("p", { class: "note" }, "No relay linked. simulator up links its own; simulator serve takes --relay URL."));
    return;
  }
  const auth = { headers: { Authorization: "Bearer " + relayToken() } };
  const tokenForm = h("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault(); sessionStorage.setItem("relayToken", tokenForm.elements.token.value); draw();
  } }, h("label", {}, "relay admin token (kept in this tab only)", h("input", { name: "token", type: "password",
    value: relayToken(), size: 30 })), h("button", { type: "submit" }, "Use"));
  main.replaceChildren(h("h2", {}, "Relay at " + info.relay.url), tokenForm);
  try {
    const [status, hooks, dead] = await Promise.all([api("/_sim/relay/status", auth), api("/_sim/relay/webhooks"),
      api("/_sim/relay/deadletters", auth)]);
    main.append(h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h3", {}, "Webhooks by source"), h("table", {}, h("tbody", {},
        Object.entries(hooks.webhooks).map(([src, by]) => h("tr", {}, h("td", {}, src),
          h("td", { class: "mono" }, Object.entries(by).map(([o, n]) => o + " " + n).join(", "))))))),
      h("div", { class: "card" }, h("h3", {}, "Queue"),
        h("p", { "data-testid": "outbox" }, "outbox: " + status.outbox.pending + " pending, " + status.outbox.dead +
          " dead, " + status.outbox.seen + " webhooks seen" + (status.store ? " · " + status.store.where : "") +
          (status.store && status.store.replica ? " · this replica " + status.store.replica : "")),
        h("table", {}, h("thead", {}, h("tr", {}, ["destination", "sends to", "queued"].concat(
          status.store && status.store.replica ? ["sent by"] : []).map((c) => h("th", {}, c)))),
          h("tbody", {}, Object.entries(status.destinations || {}).map(([name, d]) => h("tr", {},
            h("td", {}, name),
            h("td", { class: "mono" }, d.kind + " " + [d.region, d.account_id, d.domain, d.site_id].filter(Boolean).join(" ")),
            h("td", {}, String((status.queues || {})[name] || 0)),
            status.store && status.store.replica ? h("td", { class: "mono", "data-testid": "lease" },
              ((status.store.leases || {})[name] || {}).holder || "no replica now") : null)))))),
    h("h3", {}, "Dead letters"),
    h("table", { "aria-label": "dead letters" }, h("tbody", {}, dead.deadletters.length ? dead.deadletters.map((d) =>
      h("tr", { "data-testid": "deadletter-row" },
        h("td", { class: "mono" }, String(d.id)), h("td", {}, d.source + " " + (d.event_type || "")),
        h("td", {}, d.destination || ""), h("td", { class: "refused" }, (d.status || "") + (d.code ? " code " + d.code : "")),
        h("td", {}, d.reason),
        h("td", {}, h("button", { type: "button", "data-testid": "retry", onclick: async () => {
          try { await api("/_sim/relay/deadletters/" + d.id + "/retry", { method: "POST", ...auth }); draw(); }
          catch (e) { main.append(errorBox(e)); }
        } }, "Retry")))) : h("tr", {}, h("td", { class: "note" }, "No dead letter.")))));
  } catch (e) { main.append(errorBox(e)); }
}

// ---- scenarios ----

async function viewScenarios() {
  try {
    const out = await api("/_sim/scenarios");
    const rows = out.runs.map((r) => {
      const detail = r.passed ? null : h("tr", { class: "detail" }, h("td", { colspan: 5 },
        h("ul", {}, (r.problems || []).map((x) => h("li", { class: "refused" }, x))),
        h("div", { class: "grid2" }, h("pre", {}, "expected\n" + (r.expected || []).join("\n")),
          h("pre", {}, "received\n" + (r.received || []).join("\n")))));
      return [h("tr", { "data-testid": "run-row" },
        h("td", {}, h("span", { class: "badge " + (r.passed ? "pass" : "FAIL") }, r.passed ? "pass" : "FAIL")),
        h("td", {}, r.scenario + " × " + r.source),
        h("td", {}, r.webhooks + " webhooks"), h("td", {}, Math.round(r.took_ms) + " ms"),
        h("td", {}, h("a", { href: "?" + new URLSearchParams({ view: "requests", q: r.run }) }, "its requests"))), detail];
    });
    const play = out.can_play ? h("form", { class: "filters", "data-testid": "play-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const [scenario, source] = play.elements.pick.value.split(" × ");
      play.elements.go.disabled = true;
      try {
        await api("/_sim/scenarios/play", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ scenario, source }) });
      } catch (e) { main.append(errorBox(e)); }
      draw();
    } }, h("label", {}, "play again", h("select", { name: "pick" }, out.scenarios.flatMap((s) =>
      s.sources.map((src) => h("option", {}, s.name + " × " + src))))),
      h("button", { class: "primary", type: "submit", name: "go", "data-testid": "play" }, "Play")) :
      h("p", { class: "note" }, "Scenarios are played by simulator up; this simulator has none linked.");
    main.replaceChildren(play, h("table", { "aria-label": "scenario runs" }, h("tbody", {}, rows.flat())));
  } catch (e) { main.replaceChildren(errorBox(e)); }
}

// ---- the frame ----

const VIEWS = { requests: viewRequests, request: viewRequest, user: viewUser, piano: viewPiano, faults: viewFaults,
  relay: viewRelay, scenarios: viewScenarios };

async function draw() {
  const p = params();
  if (p.get("view") && !VIEWS[p.get("view")]) {
    main.replaceChildren(errorBox(new Error("no view \"" + p.get("view") + "\"; the views are " +
      Object.keys(VIEWS).join(", "))));
    return;
  }
  const view = p.get("view") || "requests";
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.dataset.view === view || (view === "request" && a.dataset.view === "requests"));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  if (view !== "requests" && stream) { stream.close(); stream = null; live.textContent = ""; live.className = "live"; }
  picked = -1;
  held = [];
  try { await VIEWS[view](p); } catch (e) { main.replaceChildren(errorBox(e)); }
}

function rows() { return [...main.querySelectorAll("tbody tr[data-testid]")]; }

function pick(i) {
  const list = rows();
  if (!list.length) return;
  picked = Math.max(0, Math.min(list.length - 1, i));
  list.forEach((tr, j) => tr.classList.toggle("picked", j === picked));
  list[picked].scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (ev) => {
  if (ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  const views = ["requests", "user", "piano", "faults", "relay", "scenarios"];
  if (ev.key === "j" || ev.key === "ArrowDown") { pick(picked + 1); ev.preventDefault(); }
  else if (ev.key === "k" || ev.key === "ArrowUp") { pick(picked - 1); ev.preventDefault(); }
  else if (ev.key === "Enter" && picked >= 0) rows()[picked].click();
  else if (ev.key === "Escape") history.back();
  else if (ev.key === "/") { const q = main.querySelector("[data-testid=filter-q], [data-testid=user-id]"); if (q) { q.focus(); ev.preventDefault(); } }
  else if (ev.key === "p") togglePause();
  else if (ev.key >= "1" && ev.key <= "6") go(new URLSearchParams({ view: views[Number(ev.key) - 1] }));
});

for (const a of document.querySelectorAll("nav a")) {
  a.addEventListener("click", (ev) => { ev.preventDefault(); go(new URLSearchParams({ view: a.dataset.view })); });
}
window.addEventListener("popstate", draw);

api("/_sim/inspector/info").then((i) => { info = i; document.getElementById("version").textContent = i.version; })
  .catch(() => {}).finally(draw);
