// lamina console: small vanilla JS over lamina's REST API (the same API boto3 and the CLI use).
"use strict";

const Lamina = (() => {
  const meta = (n) => (document.querySelector(`meta[name="${n}"]`) || {}).content || "";
  const TOKEN = meta("lamina-token");
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const enc = encodeURIComponent;

  // -- messages and errors ------------------------------------------------------------------------

  function message(text, kind = "info") {
    const box = $("#messages");
    if (!box) return;
    const div = document.createElement("div");
    div.className = `msg ${kind}`;
    div.textContent = text;
    const close = document.createElement("button");
    close.textContent = "×";
    close.className = "close";
    close.onclick = () => div.remove();
    div.appendChild(close);
    box.prepend(div);
    if (kind !== "error") setTimeout(() => div.remove(), 6000);
  }
  const showError = (err) => message(err.message || String(err), "error");

  class ApiError extends Error {
    constructor(status, type, msg) { super(`${type || "Error"}: ${msg || "HTTP " + status}`); this.status = status; this.type = type; }
  }

  async function api(method, path, opts = {}) {
    const headers = Object.assign({}, opts.headers || {});
    if (TOKEN) headers["Authorization"] = `Bearer ${TOKEN}`;
    let body = opts.body;
    if (opts.json !== undefined) { body = JSON.stringify(opts.json); headers["Content-Type"] = "application/json"; }
    let resp;
    try {
      resp = await fetch(path, { method, headers, body, credentials: "same-origin" });
    } catch (e) {
      throw new ApiError(0, "NetworkError", "lamina could not be reached: " + e.message);
    }
    if (opts.raw) {
      if (!resp.ok && resp.status >= 400 && !resp.headers.get("X-Amz-Function-Error")) throw await errorOf(resp);
      return resp;
    }
    if (!resp.ok) throw await errorOf(resp);
    const text = await resp.text();
    return text ? JSON.parse(text) : {};
  }

  async function errorOf(resp) {
    let doc = {};
    try { doc = JSON.parse(await resp.text()); } catch (e) { /* not JSON */ }
    const type = resp.headers.get("X-Amzn-ErrorType") || doc.__type || doc.errorType || doc.Type || "Error";
    const msg = doc.Message || doc.message || doc.errorMessage || `HTTP ${resp.status}`;
    if (resp.status === 401 || (resp.status === 403 && /UnrecognizedClient|InvalidSignature/.test(type))) {
      window.location = "/console/login?message=" + enc("Your session is no longer valid; log in again.");
    }
    return new ApiError(resp.status, type.split(":")[0], msg);
  }

  const logsApi = (op, body) => api("POST", "/", {
    body: JSON.stringify(body), headers: { "X-Amz-Target": `Logs_20140328.${op}`, "Content-Type": "application/x-amz-json-1.1" },
  });

  // -- helpers --------------------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else if (k.startsWith("on")) e[k] = v; else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
    return e;
  }
  function fillTable(table, rows, empty) {
    const tbody = $("tbody", table);
    tbody.replaceChildren();
    if (!rows.length) { tbody.append(el("tr", {}, el("td", { colspan: $$("th", table).length, class: "muted" }, empty || "Nothing yet."))); return; }
    for (const r of rows) tbody.append(r);
  }
  const fmtTime = (ms) => ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "";
  function toBase64(buf) {
    const bytes = new Uint8Array(buf); let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  const fileBase64 = async (input) => toBase64(await input.files[0].arrayBuffer());
  function busy(button, on) { if (button) { button.disabled = on; button.classList.toggle("busy", on); } }

  // -- zip: read a one-file archive, write a stored one (for the in-browser editor) -------------------

  const CRC_TABLE = (() => { const t = new Uint32Array(256); for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; } return t; })();
  function crc32(bytes) { let c = 0xFFFFFFFF; for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >>> 8); return (c ^ 0xFFFFFFFF) >>> 0; }

  async function readZip(buf) {
    const v = new DataView(buf); const files = [];
    let eocd = -1;
    for (let i = buf.byteLength - 22; i >= Math.max(0, buf.byteLength - 65557); i--) if (v.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
    if (eocd < 0) throw new Error("not a zip archive");
    let p = v.getUint32(eocd + 16, true); const count = v.getUint16(eocd + 10, true);
    for (let n = 0; n < count; n++) {
      const method = v.getUint16(p + 10, true), csize = v.getUint32(p + 20, true);
      const nlen = v.getUint16(p + 28, true), xlen = v.getUint16(p + 30, true), clen = v.getUint16(p + 32, true);
      const local = v.getUint32(p + 42, true);
      const name = new TextDecoder().decode(new Uint8Array(buf, p + 46, nlen));
      files.push({ name, method, csize, local });
      p += 46 + nlen + xlen + clen;
    }
    return {
      files: files.filter((f) => !f.name.endsWith("/")),
      async text(f) {
        const start = f.local + 30 + v.getUint16(f.local + 26, true) + v.getUint16(f.local + 28, true);
        const data = new Uint8Array(buf, start, f.csize);
        if (f.method === 0) return new TextDecoder().decode(data);
        if (f.method !== 8) throw new Error("unsupported compression");
        const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
        return await new Response(stream).text();
      },
    };
  }

  function writeZip(files) {  // files: [{name, text}] -> Uint8Array (stored, no compression)
    const parts = [], central = []; let offset = 0;
    for (const f of files) {
      const name = new TextEncoder().encode(f.name), data = new TextEncoder().encode(f.text), crc = crc32(data);
      const h = new DataView(new ArrayBuffer(30));
      h.setUint32(0, 0x04034b50, true); h.setUint16(4, 20, true); h.setUint16(8, 0, true);
      h.setUint16(10, 0, true); h.setUint16(12, 0x5021, true);  // 2020-01-01 00:00
      h.setUint32(14, crc, true); h.setUint32(18, data.length, true); h.setUint32(22, data.length, true); h.setUint16(26, name.length, true);
      parts.push(new Uint8Array(h.buffer), name, data);
      const c = new DataView(new ArrayBuffer(46));
      c.setUint32(0, 0x02014b50, true); c.setUint16(4, 0x031e, true); c.setUint16(6, 20, true);
      c.setUint16(14, 0x5021, true); c.setUint32(16, crc, true); c.setUint32(20, data.length, true); c.setUint32(24, data.length, true);
      c.setUint16(28, name.length, true); c.setUint32(38, (0o100644 << 16) >>> 0, true); c.setUint32(42, offset, true);
      central.push(new Uint8Array(c.buffer), name);
      offset += 30 + name.length + data.length;
    }
    const csize = central.reduce((n, a) => n + a.length, 0);
    const e = new DataView(new ArrayBuffer(22));
    e.setUint32(0, 0x06054b50, true); e.setUint16(8, files.length, true); e.setUint16(10, files.length, true);
    e.setUint32(12, csize, true); e.setUint32(16, offset, true);
    const all = [...parts, ...central, new Uint8Array(e.buffer)];
    const out = new Uint8Array(all.reduce((n, a) => n + a.length, 0)); let p = 0;
    for (const a of all) { out.set(a, p); p += a.length; }
    return out;
  }

  // -- charts (inline SVG) ---------------------------------------------------------------------------

  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];
  function chart(title, timestamps, series, unit = "", daily = false) {
    const W = 460, H = 180, L = 44, B = 22, T = 10, R = 10;
    const values = series.flatMap((s) => s.values.filter((x) => x != null));
    const max = Math.max(1, ...values) * 1.1;
    const n = Math.max(1, timestamps.length - 1);
    const x = (i) => L + (W - L - R) * i / n, y = (val) => H - B - (H - B - T) * val / max;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`); svg.setAttribute("class", "chart-svg");
    const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text != null) e.textContent = text; svg.append(e); return e; };
    for (let g = 0; g <= 4; g++) {
      const val = max * g / 4;
      add("line", { x1: L, x2: W - R, y1: y(val), y2: y(val), class: "grid" });
      add("text", { x: L - 4, y: y(val) + 3, class: "axis", "text-anchor": "end" }, val >= 100 ? Math.round(val) : +val.toFixed(1));
    }
    const tick = (i) => new Date(timestamps[i] * 1000).toISOString().slice(daily ? 5 : 11, daily ? 10 : 16);
    if (timestamps.length) {
      add("text", { x: L, y: H - 6, class: "axis" }, tick(0));
      add("text", { x: W - R, y: H - 6, class: "axis", "text-anchor": "end" }, tick(timestamps.length - 1));
    }
    series.forEach((s, k) => {
      let d = "", pen = false;
      s.values.forEach((val, i) => {
        if (val == null) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(val).toFixed(1)}`; pen = true;
        if (s.values.filter((q) => q != null).length < 3 || val > 0) add("circle", { cx: x(i), cy: y(val), r: val > 0 ? 2.2 : 0, fill: COLORS[k % 4] });
      });
      if (d) add("path", { d, stroke: COLORS[k % 4], fill: "none", "stroke-width": 1.6 });
    });
    const box = el("div", { class: "chart card" }, el("h3", {}, title + (unit ? ` (${unit})` : "")));
    box.dataset.points = String(values.filter((q) => q > 0).length);
    box.append(svg);
    const legend = el("div", { class: "legend" });
    series.forEach((s, k) => legend.append(el("span", { style: `color:${COLORS[k % 4]}` }, "■ "), s.name + "  "));
    box.append(legend);
    return box;
  }

  // -- pages -----------------------------------------------------------------------------------------

  async function functionsPage() {
    // Search and pages are the server's (GET /lamina/v1/functions): the browser holds one page at a time.
    const PAGE = 20; let page = 1, pending = null, seq = 0;
    const table = $("#functions");
    async function load() {
      const mine = ++seq, q = $("#search").value.trim();
      try {
        const doc = await api("GET", `/lamina/v1/functions?PageSize=${PAGE}&Page=${page}` + (q ? "&Search=" + enc(q) : ""));
        if (mine !== seq) return;  // a newer search is on its way
        const fns = doc.Functions || [], pages = Math.max(1, Math.ceil(doc.Total / PAGE));
        $("#page-info").textContent = `Page ${page} of ${pages} · ${doc.Total} function${doc.Total === 1 ? "" : "s"}`;
        $("#prev").disabled = page <= 1; $("#next").disabled = page >= pages;
        const stats = fns.length ? await api("GET", "/lamina/v1/metrics/last-hour?functions=" + enc(fns.map((f) => f.FunctionName).join(","))) : {};
        if (mine !== seq) return;
        fillTable(table, fns.map((f) => {
          const st = stats[f.FunctionName] || {};
          return el("tr", {},
            el("td", {}, el("a", { href: `/console/functions/${enc(f.FunctionName)}` }, f.FunctionName)),
            el("td", {}, f.Runtime || f.PackageType), el("td", {}, f.MemorySize), el("td", {}, (f.LastModified || "").replace("T", " ").slice(0, 19)),
            el("td", { class: "num" }, st.invocations ?? 0), el("td", { class: "num" + (st.errors ? " bad" : "") }, st.errors ?? 0));
        }), q ? "No function matches." : "No functions yet: create one.");
      } catch (e) { showError(e); fillTable(table, [], "Could not load functions."); }
    }
    $("#search").oninput = () => { page = 1; clearTimeout(pending); pending = setTimeout(load, 200); };
    $("#prev").onclick = () => { page--; load(); };
    $("#next").onclick = () => { page++; load(); };
    load();
  }

  function createPage() {
    const form = $("#create-form");
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const f = form.elements, button = $("button[type=submit]", form);
      busy(button, true);
      try {
        let zip;
        if (f.source.value === "zip") {
          if (!f.zip.files.length) throw new Error("Choose a .zip file to upload.");
          zip = await fileBase64(f.zip);
        } else {
          zip = toBase64(writeZip([{ name: f.filename.value, text: f.inline.value }]));
        }
        const name = f.name.value.trim();
        await api("POST", "/2015-03-31/functions", { json: {
          FunctionName: name, Runtime: f.runtime.value, Handler: f.handler.value, Role: f.role.value,
          MemorySize: +f.memory.value, Timeout: +f.timeout.value, Code: { ZipFile: zip } } });
        window.location = `/console/functions/${enc(name)}?created=1`;
      } catch (e) { showError(e); } finally { busy(button, false); }
    };
  }

  async function functionPage(name) {
    const base = `/2015-03-31/functions/${enc(name)}`;
    let fn = null;
    if (new URLSearchParams(location.search).get("created")) message(`Function ${name} created.`, "ok");

    // tabs
    const loaded = {};
    function show(tab) {
      $$(".tabs a").forEach((a) => a.classList.toggle("active", a.dataset.tab === tab));
      $$(".tab").forEach((s) => { s.hidden = s.id !== `tab-${tab}`; });
      history.replaceState(null, "", `?tab=${tab}`);
      if (!loaded[tab] && loaders[tab]) { loaded[tab] = true; loaders[tab](); }
      if (tab !== "logs") stopTail();
    }
    $$(".tabs a").forEach((a) => { a.href = `?tab=${a.dataset.tab}`; a.onclick = (ev) => { ev.preventDefault(); show(a.dataset.tab); }; });

    async function loadFunction() {
      fn = await api("GET", base);
      const c = fn.Configuration;
      $("#fn-summary").textContent = `${c.Runtime || c.PackageType} · ${c.MemorySize} MB · ${c.Timeout} s · ${c.State || ""} · last modified ${(c.LastModified || "").slice(0, 19).replace("T", " ")}`;
      return fn;
    }

    // code
    async function loadCode() {
      const note = $("#editor-note");
      try {
        const f = fn || await loadFunction();
        if (f.Configuration.PackageType === "Image") { note.textContent = "An image function: no editor."; return; }
        const resp = await fetch(f.Code.Location);
        if (!resp.ok) throw new Error(`cannot download the code (HTTP ${resp.status})`);
        const zip = await readZip(await resp.arrayBuffer());
        if (zip.files.length !== 1) { note.textContent = `The package has ${zip.files.length} files: edit it locally and upload a .zip.`; return; }
        $("#editor").value = await zip.text(zip.files[0]);
        $("#editor-file").textContent = zip.files[0].name;
        note.textContent = "A single-file function: edit and deploy.";
        $("#editor").hidden = false; $("#deploy").hidden = false;
      } catch (e) { note.textContent = "The editor is unavailable: " + e.message; }
    }
    $("#deploy").onclick = async () => {
      busy($("#deploy"), true);
      try {
        const zip = writeZip([{ name: $("#editor-file").textContent, text: $("#editor").value }]);
        await api("PUT", `${base}/code`, { json: { ZipFile: toBase64(zip) } });
        message("Code deployed.", "ok"); await loadFunction();
      } catch (e) { showError(e); } finally { busy($("#deploy"), false); }
    };
    $("#upload-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const input = $("#upload-form input[type=file]");
      try {
        await api("PUT", `${base}/code`, { json: { ZipFile: await fileBase64(input) } });
        message("Code uploaded.", "ok"); await loadFunction(); loadCode();
      } catch (e) { showError(e); }
    };

    // test
    let saved = {};
    async function loadEvents(select) {
      try {
        saved = await api("GET", `/console/api/functions/${enc(name)}/test-events`);
        const sel = $("#saved-events"); sel.replaceChildren(el("option", { value: "" }, "(new event)"));
        for (const k of Object.keys(saved)) sel.append(el("option", { value: k }, k));
        if (select) { sel.value = select; }
      } catch (e) { showError(e); }
    }
    $("#saved-events").onchange = () => {
      const k = $("#saved-events").value;
      if (k) { $("#event-name").value = k; $("#event-json").value = JSON.stringify(saved[k], null, 2); }
    };
    $("#save-event").onclick = async () => {
      const k = $("#event-name").value.trim();
      try {
        await api("PUT", `/console/api/functions/${enc(name)}/test-events/${enc(k)}`, { body: $("#event-json").value, headers: { "Content-Type": "application/json" } });
        message(`Test event ${k} saved.`, "ok"); await loadEvents(k);
      } catch (e) { showError(e); }
    };
    $("#delete-event").onclick = async () => {
      const k = $("#saved-events").value; if (!k) return;
      try { await api("DELETE", `/console/api/functions/${enc(name)}/test-events/${enc(k)}`); await loadEvents(); } catch (e) { showError(e); }
    };
    $("#run-test").onclick = async () => {
      const button = $("#run-test"); busy(button, true);
      try {
        try { JSON.parse($("#event-json").value); } catch (e) { throw new Error("The event is not valid JSON: " + e.message); }
        const q = $("#test-qualifier").value.trim();
        const resp = await api("POST", `${base}/invocations${q ? "?Qualifier=" + enc(q) : ""}`, {
          body: $("#event-json").value, headers: { "X-Amz-Log-Type": "Tail", "Content-Type": "application/json" }, raw: true });
        const text = await resp.text();
        const ferr = resp.headers.get("X-Amz-Function-Error");
        const tail = resp.headers.get("X-Amz-Log-Result");
        const log = tail ? new TextDecoder().decode(Uint8Array.from(atob(tail), (ch) => ch.charCodeAt(0))) : "";
        const report = (log.match(/REPORT RequestId:[^\n]*/) || [""])[0];
        // REPORT fields are tab-separated; "Init Duration" and "Billed Duration" must not match "Duration".
        const field = (label) => (report.match(new RegExp("(?:^|\\t)" + label + ": ([\\d.]+ \\w+)")) || [, "–"])[1];
        let pretty = text; try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        $("#test-result").hidden = false;
        $("#test-result").className = "card " + (ferr ? "failed" : "succeeded");
        $("#result-title").textContent = ferr ? `Execution result: failed (${ferr})` : "Execution result: succeeded";
        $("#r-request").textContent = resp.headers.get("X-Amzn-RequestId") || "";
        $("#r-trace").textContent = resp.headers.get("X-Amzn-Trace-Id") || "";
        $("#r-version").textContent = resp.headers.get("X-Amz-Executed-Version") || "";
        $("#r-duration").textContent = field("Duration");
        $("#r-billed").textContent = field("Billed Duration");
        $("#r-memory").textContent = field("Max Memory Used");
        $("#r-init").textContent = field("Init Duration");
        $("#r-payload").textContent = pretty;
        $("#r-log").textContent = log;
      } catch (e) { showError(e); } finally { busy(button, false); }
    };

    // monitor
    async function loadCharts() {
      const win = +$("#window").value, end = Math.floor(Date.now() / 1000) + 60;
      try {
        const s = await api("GET", `/lamina/v1/functions/${enc(name)}/metrics?start=${end - win}&end=${end}`);
        const box = $("#charts"); box.replaceChildren();
        const t = s.timestamps;
        box.append(
          chart("Invocations", t, [{ name: "invocations", values: s.invocations }]),
          chart("Errors", t, [{ name: "errors", values: s.errors }]),
          chart("Duration", t, [{ name: "p50", values: s.duration_p50 }, { name: "p90", values: s.duration_p90 }, { name: "p99", values: s.duration_p99 }], "ms"),
          chart("Throttles", t, [{ name: "throttles", values: s.throttles }]),
          chart("Concurrent executions", t, [{ name: "max", values: s.concurrency }]),
          chart("Cold starts", t, [{ name: "cold starts", values: s.cold_starts }]),
          chart("Init duration", t, [{ name: "average", values: s.init_duration_avg }], "ms"),
        );
        const sum = (a) => a.reduce((n, v) => n + v, 0);
        const types = Object.entries(s.errors_by_type).map(([k, v]) => `${k}: ${v}`).join(", ");
        $("#monitor-summary").textContent = `${sum(s.invocations)} invocations, ${sum(s.errors)} errors${types ? " (" + types + ")" : ""}, ${sum(s.throttles)} throttles · one point per ${s.period / 60} min`;
      } catch (e) { showError(e); }
    }
    $("#refresh-charts").onclick = loadCharts; $("#window").onchange = loadCharts;

    // logs
    let tailTimer = null, tailToken = null;
    function stopTail() { if (tailTimer) { clearInterval(tailTimer); tailTimer = null; } if ($("#live-tail")) $("#live-tail").checked = false; }
    const logLine = (e) => `${fmtTime(e.timestamp)}  ${e.message.replace(/\n$/, "")}`;
    async function loadStreams() {
      try {
        const doc = await logsApi("DescribeLogStreams", { logGroupName: `/aws/lambda/${name}`, orderBy: "LastEventTime", descending: true });
        const sel = $("#log-stream"), keep = sel.value;
        sel.replaceChildren(el("option", { value: "" }, "All streams"));
        const rows = doc.logStreams.map((s) => {
          sel.append(el("option", { value: s.logStreamName }, s.logStreamName));
          return el("tr", {}, el("td", {}, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); sel.value = s.logStreamName; searchLogs(); } }, s.logStreamName)),
            el("td", {}, fmtTime(s.lastEventTimestamp)), el("td", { class: "num" }, s.storedBytes));
        });
        sel.value = keep; fillTable($("#streams"), rows, "No streams yet.");
        const groups = await logsApi("DescribeLogGroups", { logGroupNamePrefix: `/aws/lambda/${name}` });
        const g = (groups.logGroups || []).find((x) => x.logGroupName === `/aws/lambda/${name}`);
        $("#log-retention").value = g && g.retentionInDays ? String(g.retentionInDays) : "";
      } catch (e) {
        if (e.status === 404) { fillTable($("#streams"), [], "This function has not logged anything yet."); $("#log-events").textContent = ""; }
        else showError(e);
      }
    }
    async function searchLogs() {
      const since = +$("#log-since").value, body = { logGroupName: `/aws/lambda/${name}`, limit: 1000 };
      if (since) body.startTime = Date.now() - since * 1000;
      if ($("#log-filter").value.trim()) body.filterPattern = $("#log-filter").value.trim();
      if ($("#log-stream").value) body.logStreamNames = [$("#log-stream").value];
      try {
        const doc = await logsApi("FilterLogEvents", body);
        $("#log-events").textContent = doc.events.map(logLine).join("\n") || "No matching events.";
      } catch (e) { if (e.status === 404) $("#log-events").textContent = "This function has not logged anything yet."; else showError(e); }
    }
    async function tailOnce() {
      const params = new URLSearchParams({ limit: "200" });
      if (tailToken) params.set("nextToken", tailToken);
      if ($("#log-stream").value) params.set("stream", $("#log-stream").value);
      try {
        const doc = await api("GET", `/lamina/v1/functions/${enc(name)}/logs?${params}`);
        tailToken = doc.nextToken;
        const filter = $("#log-filter").value.trim();
        const lines = doc.events.filter((e) => !filter || e.message.includes(filter)).map(logLine);
        if (lines.length) { const pre = $("#log-events"); pre.textContent += (pre.textContent ? "\n" : "") + lines.join("\n"); pre.scrollTop = pre.scrollHeight; }
      } catch (e) { if (e.status !== 404) { showError(e); stopTail(); } }
    }
    $("#log-search").onclick = () => { stopTail(); searchLogs(); loadStreams(); };
    $("#live-tail").onchange = () => {
      if ($("#live-tail").checked) { tailToken = null; $("#log-events").textContent = ""; tailOnce(); tailTimer = setInterval(tailOnce, 2000); }
      else stopTail();
    };
    $("#log-retention").onchange = async () => {
      const v = $("#log-retention").value, group = `/aws/lambda/${name}`;
      try {
        if (v === "") await logsApi("DeleteRetentionPolicy", { logGroupName: group });
        else if (v === "0") await logsApi("DeleteRetentionPolicy", { logGroupName: group });
        else await logsApi("PutRetentionPolicy", { logGroupName: group, retentionInDays: +v });
        message("Retention saved.", "ok");
      } catch (e) { showError(e); }
    };

    // configuration
    async function loadConfig() {
      try {
        const c = (await loadFunction()).Configuration, f = $("#config-form").elements;
        for (const k of ["Description", "Handler", "Runtime", "MemorySize", "Timeout", "Role"]) f[k].value = c[k] ?? "";
        f.EphemeralStorage.value = (c.EphemeralStorage || {}).Size || 512;
        f.Layers.value = (c.Layers || []).map((l) => l.Arn).join("\n");
        f.Environment.value = Object.entries((c.Environment || {}).Variables || {}).map(([k, v]) => `${k}=${v}`).join("\n");
        f.Network.value = ((c.VpcConfig || {}).SubnetIds || []).join(", ");
        const conc = await api("GET", `/2019-09-30/functions/${enc(name)}/concurrency`);
        $("#concurrency-form").elements.reserved.value = conc.ReservedConcurrentExecutions ?? "";
        await loadProvisioned();
      } catch (e) { showError(e); }
    }
    const pcPath = `/2019-09-30/functions/${enc(name)}/provisioned-concurrency`;
    async function loadProvisioned() {
      const list = (await api("GET", `${pcPath}?List=ALL`)).ProvisionedConcurrencyConfigs || [];
      const body = $("#provisioned tbody");
      body.textContent = "";
      for (const c of list) {
        const qualifier = c.FunctionArn.split(":").pop(), tr = document.createElement("tr");
        for (const v of [qualifier, c.RequestedProvisionedConcurrentExecutions, c.AllocatedProvisionedConcurrentExecutions,
                         c.AvailableProvisionedConcurrentExecutions, c.Status + (c.StatusReason ? ` (${c.StatusReason})` : "")]) {
          const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
        }
        const td = document.createElement("td"), del = document.createElement("button");
        del.textContent = "Remove";
        del.onclick = async () => {
          try { await api("DELETE", `${pcPath}?Qualifier=${enc(qualifier)}`); message("Provisioned concurrency removed.", "ok"); await loadProvisioned(); } catch (e) { showError(e); }
        };
        td.appendChild(del); tr.appendChild(td); body.appendChild(tr);
      }
    }
    $("#provisioned-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#provisioned-form").elements;
      try {
        await api("PUT", `${pcPath}?Qualifier=${enc(f.qualifier.value)}`, { json: { ProvisionedConcurrentExecutions: +f.count.value } });
        message("Provisioning started.", "ok");
        await loadProvisioned();
      } catch (e) { showError(e); }
    };
    $("#config-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#config-form").elements, vars = {};
      for (const line of f.Environment.value.split("\n")) {
        if (!line.trim()) continue;
        const i = line.indexOf("=");
        if (i < 1) { showError(new Error(`Environment line "${line}" is not KEY=value`)); return; }
        vars[line.slice(0, i).trim()] = line.slice(i + 1);
      }
      const body = { Description: f.Description.value, MemorySize: +f.MemorySize.value, Timeout: +f.Timeout.value,
        Role: f.Role.value, EphemeralStorage: { Size: +f.EphemeralStorage.value }, Environment: { Variables: vars },
        Layers: f.Layers.value.split("\n").map((s) => s.trim()).filter(Boolean),
        VpcConfig: { SubnetIds: f.Network.value.split(",").map((s) => s.trim()).filter(Boolean), SecurityGroupIds: [] } };
      if (fn && fn.Configuration.PackageType !== "Image") { body.Handler = f.Handler.value; body.Runtime = f.Runtime.value; }
      try { await api("PUT", `${base}/configuration`, { json: body }); message("Configuration saved.", "ok"); await loadConfig(); } catch (e) { showError(e); }
    };
    $("#concurrency-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const v = $("#concurrency-form").elements.reserved.value;
      try {
        if (v === "") await api("DELETE", `/2017-10-31/functions/${enc(name)}/concurrency`);
        else await api("PUT", `/2017-10-31/functions/${enc(name)}/concurrency`, { json: { ReservedConcurrentExecutions: +v } });
        message("Concurrency saved.", "ok");
      } catch (e) { showError(e); }
    };
    $("#unreserve").onclick = async () => {
      try { await api("DELETE", `/2017-10-31/functions/${enc(name)}/concurrency`); $("#concurrency-form").elements.reserved.value = ""; message("Reservation removed.", "ok"); } catch (e) { showError(e); }
    };

    // versions and aliases
    async function loadVersions() {
      try {
        const vs = (await api("GET", `${base}/versions`)).Versions || [];
        fillTable($("#versions"), vs.map((v) => el("tr", {}, el("td", {}, v.Version), el("td", {}, v.Description || ""),
          el("td", {}, (v.LastModified || "").slice(0, 19).replace("T", " ")), el("td", { class: "mono" }, (v.CodeSha256 || "").slice(0, 16) + "…"))));
        const numbered = vs.map((v) => v.Version).filter((v) => v !== "$LATEST");
        const f = $("#alias-form").elements;
        f.version.replaceChildren(...[...numbered, "$LATEST"].map((v) => el("option", { value: v }, v)));
        f.extra.replaceChildren(el("option", { value: "" }, "none"), ...numbered.map((v) => el("option", { value: v }, v)));
        const as = (await api("GET", `${base}/aliases`)).Aliases || [];
        fillTable($("#aliases"), as.map((a) => {
          const w = ((a.RoutingConfig || {}).AdditionalVersionWeights) || {};
          return el("tr", {}, el("td", {}, a.Name), el("td", {}, a.FunctionVersion),
            el("td", {}, Object.entries(w).map(([v, x]) => `${v}: ${Math.round(x * 100)} %`).join(", ") || "–"),
            el("td", {}, el("button", { onclick: async () => {
              try { await api("DELETE", `${base}/aliases/${enc(a.Name)}`); loadVersions(); } catch (e) { showError(e); } } }, "Delete")));
        }), "No aliases.");
        const d = $("#deploy-form").elements;
        d.alias.replaceChildren(...as.map((a) => el("option", { value: a.Name }, a.Name)));
        d.version.replaceChildren(...[...numbered].reverse().map((v) => el("option", { value: v }, v)));
        loadDeployments();
      } catch (e) { showError(e); }
    }
    let deployTimer = null;
    async function loadDeployments() {
      clearTimeout(deployTimer);
      try {
        const ds = (await api("GET", `/lamina/v1/functions/${enc(name)}/deployments`)).Deployments || [];
        fillTable($("#deployments"), ds.map((x) => el("tr", { "data-deployment": x.DeploymentId }, el("td", {}, x.DeploymentId), el("td", {}, x.Alias),
          el("td", {}, `${x.FromVersion} → ${x.ToVersion}`), el("td", {}, x.Strategy),
          el("td", { class: `status-${x.Status}` }, x.Status + (x.Reason ? `: ${x.Reason}` : "")),
          el("td", { class: "num" }, `${Math.round(x.Weight * 100)} %`),
          el("td", {}, x.History.map((h) => `${h.at.slice(11, 19)} ${h.event} ${Math.round(h.weight * 100)} %`).join(" · ")),
          el("td", {}, x.Status === "InProgress" ? el("button", { onclick: async () => {
            try { await api("POST", `/lamina/v1/functions/${enc(name)}/deployments/${x.DeploymentId}/stop`); message(`Deployment ${x.DeploymentId} stopped; traffic back on ${x.FromVersion}.`, "ok"); loadVersions(); } catch (e) { showError(e); } } }, "Stop (roll back)") : ""))),
          "No deployments yet.");
        if (ds.some((x) => x.Status === "InProgress")) deployTimer = setTimeout(loadDeployments, 2000);  // progress
      } catch (e) { showError(e); }
    }
    $("#deploy-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const d = $("#deploy-form").elements;
      const body = { Alias: d.alias.value, FunctionVersion: d.version.value, Strategy: d.strategy.value, MaxErrorRate: +d.errors.value };
      if (d.p99.value) body.MaxP99Ms = +d.p99.value;
      try {
        const x = await api("POST", `/lamina/v1/functions/${enc(name)}/deployments`, { json: body });
        message(`Deployment ${x.DeploymentId}: ${x.Alias} to version ${x.ToVersion}, ${x.Strategy}.`, "ok"); loadVersions();
      } catch (e) { showError(e); }
    };
    $("#publish-form").onsubmit = async (ev) => {
      ev.preventDefault();
      try {
        const v = await api("POST", `${base}/versions`, { json: { Description: $("#publish-form").elements.description.value } });
        message(`Published version ${v.Version}.`, "ok"); loadVersions();
      } catch (e) { showError(e); }
    };
    $("#alias-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#alias-form").elements, alias = f.name.value.trim();
      const body = { FunctionVersion: f.version.value };
      if (f.extra.value && +f.weight.value > 0) body.RoutingConfig = { AdditionalVersionWeights: { [f.extra.value]: +f.weight.value } };
      else body.RoutingConfig = { AdditionalVersionWeights: {} };
      try {
        let exists = true;
        try { await api("GET", `${base}/aliases/${enc(alias)}`); } catch (e) { if (e.status === 404) exists = false; else throw e; }
        if (exists) await api("PUT", `${base}/aliases/${enc(alias)}`, { json: body });
        else await api("POST", `${base}/aliases`, { json: Object.assign({ Name: alias }, body) });
        message(`Alias ${alias} points to ${body.FunctionVersion}.`, "ok"); loadVersions();
      } catch (e) { showError(e); }
    };

    // triggers, permissions
    const qualifierOf = (arn) => { const parts = (arn || "").split(":"); return parts.length > 7 ? parts[7] : ""; };
    const removeButton = (label, call) => el("button", { onclick: async () => {
      try { await call(); message(`${label} removed.`, "ok"); loadTriggers(); loadPolicy(); } catch (e) { showError(e); } } }, "Delete");
    async function loadTriggers() {
      try {
        const f = await loadFunction(), t = f.Triggers || {}, rows = [];
        for (const s of t.Schedules || []) rows.push(el("tr", {}, el("td", {}, "Schedule"),
          el("td", {}, `${s.Name}: ${s.ScheduleExpression} (${s.State})${s.NextFireTime ? " · next " + s.NextFireTime.slice(0, 19) : ""}`),
          el("td", {}, removeButton(`Schedule ${s.Name}`, () => api("DELETE", `/lamina/v1/schedules/${enc(s.Name)}`)))));
        for (const m of t.EventSourceMappings || []) rows.push(el("tr", {}, el("td", {}, "Queue"),
          el("td", {}, `${(m.EventSourceArn || "").split(":").pop()} · batch ${m.BatchSize} · ${m.State}`),
          el("td", {}, removeButton("Queue mapping", () => api("DELETE", `/2015-03-31/event-source-mappings/${enc(m.UUID)}`)))));
        for (const u of t.FunctionUrlConfigs || []) {
          const q = qualifierOf(u.FunctionArn);
          rows.push(el("tr", {}, el("td", {}, "Function URL"),
            el("td", {}, el("a", { href: u.FunctionUrl, target: "_blank" }, u.FunctionUrl), ` · auth ${u.AuthType}${q ? " · " + q : ""}`),
            el("td", {}, removeButton("Function URL", () => api("DELETE", `/2021-10-31/functions/${enc(name)}/url${q ? "?Qualifier=" + enc(q) : ""}`)))));
        }
        fillTable($("#triggers"), rows, "No triggers.");
        const qs = (await api("GET", "/lamina/v1/queues")).Queues || [];
        $("#esm-form").elements.queue.replaceChildren(...qs.map((x) => el("option", { value: x.QueueArn }, x.QueueName)));
      } catch (e) { showError(e); }
    }
    $("#schedule-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#schedule-form").elements;
      const body = { Name: f.name.value.trim(), FunctionName: name, ScheduleExpression: f.expression.value.trim() };
      if (f.qualifier.value.trim()) body.Qualifier = f.qualifier.value.trim();
      if (f.input.value.trim()) body.Input = f.input.value.trim();
      try { await api("POST", "/lamina/v1/schedules", { json: body }); message(`Schedule ${body.Name} added.`, "ok"); loadTriggers(); }
      catch (e) { showError(e); }
    };
    $("#url-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#url-form").elements, q = f.qualifier.value.trim();
      const path = `/2021-10-31/functions/${enc(name)}/url${q ? "?Qualifier=" + enc(q) : ""}`;
      const body = { AuthType: f.auth.value };
      const origins = f.origins.value.split(",").map((o) => o.trim()).filter(Boolean);
      if (origins.length) body.Cors = { AllowOrigins: origins };
      try {
        let made;
        try { made = await api("POST", path, { json: body }); }
        catch (e) { if (e.status === 409) made = await api("PUT", path, { json: body }); else throw e; }
        message(`Function URL: ${made.FunctionUrl}`, "ok"); loadTriggers();
      } catch (e) { showError(e); }
    };
    $("#esm-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#esm-form").elements;
      if (!f.queue.value) { showError(new Error("Create a queue first (Queues page).")); return; }
      try {
        await api("POST", "/2015-03-31/event-source-mappings", { json: { FunctionName: name, EventSourceArn: f.queue.value, BatchSize: +f.batch.value } });
        message("Queue event source added.", "ok"); loadTriggers();
      } catch (e) { showError(e); }
    };
    async function loadPolicy() {
      const show = (statements, text) => {
        fillTable($("#statements"), statements.map((st) => el("tr", {}, el("td", {}, st.Sid),
          el("td", { class: "mono" }, typeof st.Principal === "string" ? st.Principal : Object.values(st.Principal || {}).join(", ")),
          el("td", {}, st.Action), el("td", { class: "mono" }, st.Condition ? JSON.stringify(st.Condition) : "–"),
          el("td", {}, el("button", { onclick: async () => {
            const q = qualifierOf(st.Resource);
            try { await api("DELETE", `${base}/policy/${enc(st.Sid)}${q ? "?Qualifier=" + enc(q) : ""}`); message(`Statement ${st.Sid} removed.`, "ok"); loadPolicy(); }
            catch (e) { showError(e); } } }, "Remove")))), "No statements.");
        $("#policy").textContent = text;
      };
      try { const p = await api("GET", `${base}/policy`), doc = JSON.parse(p.Policy); show(doc.Statement || [], JSON.stringify(doc, null, 2)); }
      catch (e) { show([], e.status === 404 ? "No resource-based policy: only this account can use the function." : e.message); }
    }
    $("#permission-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#permission-form").elements, q = f.qualifier.value.trim();
      const body = { StatementId: f.sid.value.trim(), Principal: f.principal.value.trim(), Action: f.action.value.trim() };
      if (f.source.value.trim()) body.SourceArn = f.source.value.trim();
      try {
        await api("POST", `${base}/policy${q ? "?Qualifier=" + enc(q) : ""}`, { json: body });
        message(`Permission ${body.StatementId} added.`, "ok"); f.sid.value = ""; loadPolicy();
      } catch (e) { showError(e); }
    };

    const loaders = { code: loadCode, test: loadEvents, monitor: loadCharts, logs: () => { loadStreams(); searchLogs(); },
      configuration: loadConfig, versions: loadVersions, triggers: loadTriggers, permissions: loadPolicy };
    try { await loadFunction(); } catch (e) { showError(e); }
    show($(".tabs").dataset.initial || "code");
  }

  async function layersPage() {
    async function load() {
      try {
        const doc = await api("GET", "/2018-10-31/layers");
        fillTable($("#layers"), (doc.Layers || []).map((l) => {
          const v = l.LatestMatchingVersion || {};
          return el("tr", {}, el("td", {}, l.LayerName), el("td", {}, v.Version), el("td", { class: "mono" }, v.LayerVersionArn),
            el("td", {}, (v.CompatibleRuntimes || []).join(", ")), el("td", {}, (v.CreatedDate || "").slice(0, 19)));
        }), "No layers yet.");
      } catch (e) { showError(e); }
    }
    $("#layer-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#layer-form").elements;
      try {
        const body = { Content: { ZipFile: await fileBase64(f.zip) } };
        const rts = f.runtimes.value.split(/[\s,]+/).filter(Boolean); if (rts.length) body.CompatibleRuntimes = rts;
        const v = await api("POST", `/2018-10-31/layers/${enc(f.name.value)}/versions`, { json: body });
        message(`Published ${v.LayerVersionArn}.`, "ok"); load();
      } catch (e) { showError(e); }
    };
    load();
  }

  async function queuesPage() {
    async function load() {
      try {
        const doc = await api("GET", "/lamina/v1/queues");
        fillTable($("#queues"), (doc.Queues || []).map((q) => el("tr", {}, el("td", {}, q.QueueName),
          el("td", {}, q.FifoQueue ? "FIFO" : "Standard"),
          el("td", { class: "num" }, q.ApproximateNumberOfMessages), el("td", { class: "num" }, q.ApproximateNumberOfMessagesNotVisible),
          el("td", { class: "num" }, q.ApproximateNumberOfMessagesDelayed),
          el("td", {}, q.VisibilityTimeout + " s"), el("td", {}, q.DelaySeconds + " s"),
          el("td", {}, Math.round(q.MessageRetentionPeriod / 3600) + " h"), el("td", {}, q.ReceiveMessageWaitTimeSeconds + " s"),
          el("td", {}, Math.round(q.MaximumMessageSize / 1024) + " KiB"),
          el("td", {}, q.DeadLetterQueueArn ? `${q.DeadLetterQueueArn.split(":").pop()} after ${q.MaxReceiveCount}` : "–"),
          el("td", { class: "mono" }, q.QueueArn))), "No queues yet.");
      } catch (e) { showError(e); }
    }
    $("#queue-form").onsubmit = async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/lamina/v1/queues", { json: { QueueName: $("#queue-form").elements.name.value } }); message("Queue created.", "ok"); load(); } catch (e) { showError(e); }
    };
    load();
  }

  async function streamsPage() {
    async function load() {
      try {
        const doc = await api("GET", "/lamina/v1/streams");
        const list = doc.Streams || [];
        fillTable($("#streams"), list.map((st) => el("tr", {}, el("td", {}, st.StreamName), el("td", { class: "num" }, st.ShardCount),
          el("td", { class: "num" }, st.Records), el("td", { class: "num" }, st.IncomingRecordsPerSecond),
          el("td", {}, st.RetentionPeriodHours + " h"), el("td", { class: "mono" }, st.StreamARN))), "No streams yet.");
        const rows = [];
        for (const st of list) {
          const d = await api("GET", `/lamina/v1/streams/${enc(st.StreamName)}`);
          for (const sh of d.Shards || []) {
            const ages = (d.Consumers || []).map((c) => `${c.FunctionArn.split(":").slice(6).join(":")}: ${(c.IteratorAgeMilliseconds || {})[sh.ShardId] ?? "–"} ms`);
            rows.push(el("tr", {}, el("td", {}, st.StreamName), el("td", { class: "mono" }, sh.ShardId), el("td", { class: "num" }, sh.Records),
              el("td", { class: "num" }, sh.IncomingRecordsPerSecond), el("td", { class: "mono" }, sh.LastSequenceNumber || "–"),
              el("td", {}, ages.join(", ") || "no mapping reads it")));
          }
        }
        fillTable($("#shards"), rows, "No shards yet.");
      } catch (e) { showError(e); }
    }
    $("#stream-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#stream-form").elements;
      try { await api("POST", "/lamina/v1/streams", { json: { StreamName: f.name.value, ShardCount: Number(f.shards.value) } }); message("Stream created.", "ok"); load(); } catch (e) { showError(e); }
    };
    load();
  }

  async function usagePage() {
    // One chart of GB-seconds per day by team (account), one of requests per day by function; the top four
    // of each, the rest summed as "others".
    const form = $("#usage-form");
    const today = new Date().toISOString().slice(0, 10);
    form.elements.end.value = today;
    form.elements.start.value = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
    const query = (extra = {}) => {
      const q = new URLSearchParams({ Start: form.elements.start.value, End: form.elements.end.value, ...extra });
      if (form.elements.function.value.trim()) q.set("FunctionName", form.elements.function.value.trim());
      return q.toString();
    };
    function perDay(rows, days, keyOf, valueOf) {
      const totals = new Map();
      for (const r of rows) totals.set(keyOf(r), (totals.get(keyOf(r)) || 0) + valueOf(r));
      const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
      const shown = top.slice(0, top.length > 4 ? 3 : 4);
      const series = shown.map((k) => ({ name: k, values: days.map(() => 0) }));
      const others = { name: "others", values: days.map(() => 0) };
      for (const r of rows) {
        const i = days.indexOf(r.Period), k = shown.indexOf(keyOf(r));
        if (i < 0) continue;
        (k >= 0 ? series[k] : others).values[i] += valueOf(r);
      }
      return top.length > 4 ? [...series, others] : series;
    }
    async function load() {
      try {
        const doc = await api("GET", "/lamina/v1/usage?" + query());
        const p = doc.Prices;
        $("#usage-prices").textContent = `${doc.Start} to ${doc.End}: ${p.PerGBSecond} per GB-second, ${p.PerMillionRequests} per million requests, ${p.PerProvisionedGBSecond} per provisioned GB-second.`;
        const days = [];
        for (let t = Date.parse(doc.Start); t <= Date.parse(doc.End); t += 86400000) days.push(new Date(t).toISOString().slice(0, 10));
        const stamps = days.map((d) => Date.parse(d) / 1000);
        const rows = doc.Usage || [];
        $("#usage-charts").replaceChildren(
          chart("GB-seconds per day, by team", stamps, perDay(rows, days, (r) => r.AccountId, (r) => r.GBSeconds + r.ProvisionedGBSeconds), "", true),
          chart("Requests per day, by function", stamps, perDay(rows, days, (r) => r.FunctionName, (r) => r.Requests), "", true));
        const total = await api("GET", "/lamina/v1/usage?" + query({ Granularity: "TOTAL" }));
        const sum = (total.Usage || []).reduce((a, r) => a + r.Cost, 0);
        fillTable($("#usage-table"), (total.Usage || []).map((r) => el("tr", {}, el("td", {}, r.AccountId), el("td", {}, r.FunctionName),
          el("td", {}, r.Qualifier), el("td", { class: "num" }, r.Requests), el("td", { class: "num" }, r.Errors),
          el("td", { class: "num" }, r.Throttles), el("td", { class: "num" }, r.GBSeconds.toFixed(3)),
          el("td", { class: "num" }, r.ProvisionedGBSeconds.toFixed(3)), el("td", { class: "num" }, r.Cost.toFixed(6)))).concat(
          (total.Usage || []).length ? [el("tr", { class: "total" }, el("td", { colspan: 8 }, "Total"), el("td", { class: "num" }, sum.toFixed(6)))] : []),
          "No usage in this period.");
      } catch (e) { showError(e); }
    }
    form.onsubmit = (ev) => { ev.preventDefault(); load(); };
    $("#usage-csv").onclick = async () => {
      try {
        const resp = await api("GET", "/lamina/v1/usage?" + query({ Format: "csv" }), { raw: true });
        const url = URL.createObjectURL(await resp.blob());
        const a = el("a", { href: url, download: `lamina-usage-${form.elements.start.value}-${form.elements.end.value}.csv` });
        document.body.append(a); a.click(); a.remove(); URL.revokeObjectURL(url);
      } catch (e) { showError(e); }
    };
    load();
  }

  // IAM's query protocol, as the SDKs speak it (form in, XML out), with the console's bearer token.
  async function iam(action, params = {}) {
    const body = new URLSearchParams({ Action: action, Version: "2010-05-08", ...params });
    const resp = await fetch("/", { method: "POST", body, credentials: "same-origin",
      headers: { "Authorization": `Bearer ${TOKEN}`, "Content-Type": "application/x-www-form-urlencoded" } });
    const xml = new DOMParser().parseFromString(await resp.text(), "text/xml");
    if (!resp.ok) {
      const code = (xml.querySelector("Code") || {}).textContent, msg = (xml.querySelector("Message") || {}).textContent;
      throw new ApiError(resp.status, code, msg);
    }
    return xml;
  }
  const texts = (xml, sel) => Array.from(xml.querySelectorAll(sel)).map((n) => n.textContent);

  async function settingsPage() {
    try {
      const doc = await api("GET", "/2016-08-19/account-settings");
      const dl = $("#account-settings"); dl.replaceChildren();
      for (const [group, vals] of Object.entries(doc)) for (const [k, v] of Object.entries(vals || {})) dl.append(el("dt", {}, `${group}.${k}`), el("dd", {}, v));
    } catch (e) { showError(e); }
    const act = (fn, done) => async () => { try { await fn(); if (done) message(done, "ok"); loadUsers(); loadRoles(); } catch (e) { showError(e); } };
    function showKey(xml) {
      $("#new-key").hidden = false;
      $("#new-key-id").textContent = texts(xml, "AccessKeyId")[0];
      $("#new-key-secret").textContent = texts(xml, "SecretAccessKey")[0];
    }
    async function loadUsers() {
      try {
        const names = texts(await iam("ListUsers"), "Users > member > UserName");
        const rows = [];
        for (const name of names) {
          const keys = await iam("ListAccessKeys", { UserName: name });
          const admin = texts(await iam("ListAttachedUserPolicies", { UserName: name }), "PolicyName").includes("AdministratorAccess");
          const cell = el("td", {});
          for (const k of keys.querySelectorAll("AccessKeyMetadata > member")) {
            const id = k.querySelector("AccessKeyId").textContent, status = k.querySelector("Status").textContent;
            const next = status === "Active" ? "Inactive" : "Active";
            cell.append(el("div", { class: "key" }, el("code", {}, id), ` ${status} `,
              el("button", { class: "small", onclick: act(() => iam("UpdateAccessKey", { UserName: name, AccessKeyId: id, Status: next }), `Key ${id} ${next.toLowerCase()}.`) }, next === "Active" ? "Activate" : "Deactivate"),
              el("button", { class: "small danger", onclick: act(() => iam("DeleteAccessKey", { UserName: name, AccessKeyId: id }), `Key ${id} deleted.`) }, "Delete")));
          }
          rows.push(el("tr", { "data-user": name }, el("td", {}, name), el("td", {}, admin ? "yes" : "no"), cell,
            el("td", {}, el("button", { class: "small", onclick: async () => { try { showKey(await iam("CreateAccessKey", { UserName: name })); loadUsers(); } catch (e) { showError(e); } } }, "New key"),
              el("button", { class: "small danger", onclick: act(() => iam("DeleteUser", { UserName: name }), `User ${name} deleted.`) }, "Delete user"))));
        }
        fillTable($("#users"), rows, "No users.");
      } catch (e) { fillTable($("#users"), [], "Only the account's administrators see its users."); if (e.status !== 403) showError(e); }
    }
    async function loadRoles() {
      try {
        const names = texts(await iam("ListRoles"), "Roles > member > RoleName");
        const rows = [];
        for (const name of names) {
          const policies = texts(await iam("ListRolePolicies", { RoleName: name }), "PolicyNames > member");
          rows.push(el("tr", {}, el("td", {}, name), el("td", { class: "mono" }, `arn:aws:iam::${meta("lamina-account")}:role/${name}`),
            el("td", {}, policies.join(", ")),
            el("td", {}, el("button", { class: "small danger", onclick: act(async () => { for (const p of policies) await iam("DeleteRolePolicy", { RoleName: name, PolicyName: p }); await iam("DeleteRole", { RoleName: name }); }, `Role ${name} deleted.`) }, "Delete"))));
        }
        fillTable($("#roles"), rows, "No roles.");
      } catch (e) { fillTable($("#roles"), [], "Only the account's administrators see its roles."); if (e.status !== 403) showError(e); }
    }
    $("#user-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#user-form").elements, name = f.name.value.trim();
      try {
        await iam("CreateUser", { UserName: name });
        if (f.admin.checked) await iam("AttachUserPolicy", { UserName: name, PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess" });
        showKey(await iam("CreateAccessKey", { UserName: name }));
        message(`User ${name} created.`, "ok"); f.name.value = ""; loadUsers();
      } catch (e) { showError(e); }
    };
    $("#role-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = $("#role-form").elements, name = f.name.value.trim();
      const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
      const split = (v) => v.split(",").map((x) => x.trim()).filter(Boolean);
      const policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: split(f.actions.value), Resource: split(f.resources.value) }] };
      try {
        await iam("CreateRole", { RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) });
        await iam("PutRolePolicy", { RoleName: name, PolicyName: "console", PolicyDocument: JSON.stringify(policy) });
        message(`Role ${name} created.`, "ok"); f.name.value = ""; loadRoles();
      } catch (e) { showError(e); }
    };
    loadUsers(); loadRoles();
  }

  return { api, message, functionsPage, createPage, functionPage, layersPage, queuesPage, streamsPage, usagePage, settingsPage, readZip, writeZip };
})();
