// The estimator's page: calls API v1 of the server that served it (GET /v1/hardware,
// POST /v1/estimate) and renders the answer. Every number shown comes from those JSON
// documents; the charts are inline SVG drawn here. Nothing is fetched from elsewhere.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"];

  const $ = (id) => document.getElementById(id);
  const state = {
    hardware: new Map(),  // device id -> its GET /v1/hardware entry
    docs: [],             // the estimate documents of the last answer, one per device
    current: 0,           // which device's details are shown
    sortKey: "time_ms",
    sortDir: -1,
  };

  // ------------------------------------------------------------------ formatting

  /** 4 significant digits, no exponent for everyday sizes: 4.485, 0.01234, 1235. */
  function fmt(x) {
    if (x === null || x === undefined || !Number.isFinite(x)) return "-";
    return String(Number(x.toPrecision(4)));
  }
  function fmtMs(x) { return fmt(x) + " ms"; }
  /** 1.23 G, 456 M, 12.3 k: counts of FLOPs and bytes. */
  function fmtCount(x) {
    if (!Number.isFinite(x)) return "-";
    const units = [[1e12, " T"], [1e9, " G"], [1e6, " M"], [1e3, " k"]];
    for (const [v, u] of units) if (Math.abs(x) >= v) return fmt(x / v) + u;
    return String(x);
  }
  function pct(x) { return Number.isFinite(x) ? (100 * x).toFixed(1) + "%" : "-"; }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ------------------------------------------------------------------ API calls

  /** The JSON answer, or an Error carrying the server's {"error": {"code", "message"}}. */
  async function api(path, options) {
    const r = await fetch(path, options);
    const text = await r.text();
    let doc = null;
    try { doc = JSON.parse(text); } catch (_) { /* not JSON: reported below */ }
    if (!r.ok) {
      const e = doc && doc.error ? doc.error : { code: String(r.status), message: text.slice(0, 300) };
      throw new Error(`${r.status} ${e.code}: ${e.message}`);
    }
    if (doc === null) throw new Error(`${path}: the answer is not JSON`);
    return doc;
  }

  async function loadDevices() {
    const box = $("devices");
    try {
      const doc = await api("/v1/hardware");
      box.textContent = "";
      let checked = false;
      const devices = doc.devices.slice();
      // calibrated devices first, then by type and id
      devices.sort((a, b) => (b.calibrated - a.calibrated) ||
        String(a.hardware.type).localeCompare(String(b.hardware.type)) || a.id.localeCompare(b.id));
      for (const d of devices) {
        state.hardware.set(d.id, d);
        const label = el("label", { "data-device": d.id });
        const box1 = el("input", { type: "checkbox", name: "device", value: d.id });
        if (!checked) { box1.checked = true; checked = true; }
        label.append(box1, " " + d.id + " ");
        label.append(el("span", { class: "kind" }, `${d.hardware.vendor || ""} ${d.hardware.model || ""} (${d.hardware.type})`));
        if (d.calibrated) label.append(" ", el("span", { class: "cal" }, "calibrated"));
        label.title = `${d.id}: ${d.hardware.model || ""}`;
        box.append(label);
      }
      box.dataset.loaded = String(devices.length);
    } catch (err) {
      box.textContent = "";
      showError(`could not list the devices: ${err.message}`);
    }
  }

  function selectedDevices() {
    return Array.from(document.querySelectorAll('#devices input[name="device"]:checked')).map((e) => e.value);
  }

  function source() {
    return document.querySelector('input[name="source"]:checked').value;
  }

  /** The request the form describes: [fetch options, a one-line description]. */
  function buildRequest() {
    const devices = selectedDevices();
    if (devices.length === 0) throw new Error("pick at least one device");
    const settings = { dtype: $("dtype").value };
    if ($("runtime").value) settings.runtime = $("runtime").value;
    for (const key of ["batch", "threads"]) {
      const v = $(key).value.trim();
      if (v !== "") {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`${key} must be a whole number >= 1`);
        settings[key] = n;
      }
    }
    const kind = source();
    if (kind === "upload") {
      const file = $("onnx-file").files[0];
      if (!file) throw new Error("choose an ONNX file to upload");
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("devices", devices.join(","));
      for (const [k, v] of Object.entries(settings)) form.append(k, String(v));
      const shape = $("input-shape").value.trim();
      if (shape) for (const s of shape.split(/[\s;]+/)) if (s) form.append("input_shape", s);
      return [{ method: "POST", body: form }, file.name];
    }
    const model = kind === "zoo" ? $("zoo-model").value : $("arch").value.trim();
    if (!model) throw new Error(kind === "zoo" ? "pick a zoo model" : "paste a NAS-Bench-201 arch string");
    const body = Object.assign({ model: model, devices: devices }, settings);
    return [{ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }, model];
  }

  async function submit(event) {
    event.preventDefault();
    hideError();
    let request, what;
    try { [request, what] = buildRequest(); } catch (err) { showError(err.message); return; }
    const button = $("submit");
    button.disabled = true;
    const t0 = performance.now();
    setStatus(`estimating ${what} ...`, "busy");
    try {
      const doc = await api("/v1/estimate", request);
      const docs = Array.isArray(doc) ? doc : [doc];
      if (docs.length === 0 || !Array.isArray(docs[0].kernels)) {
        throw new Error("the answer has no kernels (a decoder's generation document is not shown here)");
      }
      state.docs = docs;
      state.current = 0;
      render();
      setStatus(`done in ${((performance.now() - t0) / 1000).toFixed(2)} s`, "done");
    } catch (err) {
      setStatus("", "error");
      showError(err.message);
    } finally {
      button.disabled = false;
    }
  }

  function setStatus(text, phase) { const s = $("status"); s.textContent = text; s.dataset.phase = phase; }
  function showError(text) { const e = $("error"); e.textContent = text; e.hidden = false; }
  function hideError() { $("error").hidden = true; $("error").textContent = ""; }

  // ------------------------------------------------------------------ rendering

  function render() {
    $("results").hidden = false;
    renderSummary();
    renderTabs();
    renderDetail();
    $("raw").textContent = JSON.stringify(state.docs.length === 1 ? state.docs[0] : state.docs, null, 2);
  }

  function renderSummary() {
    const body = $("summary").tBodies[0];
    body.textContent = "";
    const notes = new Map();  // note -> the devices it was given for
    for (const d of state.docs) {
      const tr = el("tr", { "data-device": d.hardware });
      tr.append(el("td", {}, d.hardware), el("td", {}, d.model), el("td", {}, d.runtime),
        el("td", {}, d.dtype), el("td", {}, String(d.threads)));
      const lat = el("td", { class: "num latency", "data-latency-ms": String(d.latency_ms) }, fmtMs(d.latency_ms));
      const ci = el("td", { class: "num ci", "data-ci95-low-ms": String(d.ci95_low_ms),
        "data-ci95-high-ms": String(d.ci95_high_ms) }, `${fmt(d.ci95_low_ms)} - ${fmt(d.ci95_high_ms)} ms`);
      const bound = Object.entries(d.bound_summary || {}).filter(([, v]) => v > 0)
        .sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${pct(v)}`).join(", ");
      tr.append(lat, ci, el("td", {}, d.calibrated ? "yes" : "no (priors)"), el("td", {}, bound));
      body.append(tr);
      for (const n of d.notes || []) notes.set(n, [...(notes.get(n) || []), d.hardware]);
    }
    const box = $("notes");
    box.textContent = "";
    if (notes.size) {
      const det = el("details");
      det.append(el("summary", {}, `notes of the estimate (${notes.size})`));
      const ul = el("ul");
      for (const [n, devs] of notes) {
        const who = devs.length === state.docs.length ? "" : ` (${devs.join(", ")})`;
        ul.append(el("li", {}, n + who));
      }
      det.append(ul);
      box.append(det);
    }
  }

  function renderTabs() {
    const tabs = $("device-tabs");
    tabs.textContent = "";
    state.docs.forEach((d, i) => {
      const b = el("button", { type: "button", role: "tab", "aria-selected": String(i === state.current),
        "data-device": d.hardware }, d.hardware);
      b.addEventListener("click", () => { state.current = i; renderTabs(); renderDetail(); });
      tabs.append(b);
    });
    tabs.hidden = state.docs.length < 2;
  }

  function kernelRows(doc) {
    return doc.kernels.map((k, i) => Object.assign({}, k, {
      index: i + 1,
      ops: (k.ops || []).join("+"),
      intensity: k.bytes > 0 ? k.flops / k.bytes : null,
    }));
  }

  function renderDetail() {
    const doc = state.docs[state.current];
    $("detail-title").textContent = `${doc.model} on ${doc.hardware}`;
    const rows = kernelRows(doc);
    const colors = categoryColors(rows);
    renderRoofline(doc, rows, colors);
    renderCategories(rows, colors);
    renderKernels(rows);
  }

  function categoryColors(rows) {
    const totals = new Map();
    for (const r of rows) totals.set(r.category, (totals.get(r.category) || 0) + r.time_ms);
    const cats = Array.from(totals.keys()).sort((a, b) => totals.get(b) - totals.get(a));
    return new Map(cats.map((c, i) => [c, COLORS[i % COLORS.length]]));
  }

  function renderKernels(rows) {
    const topN = $("top-n").value;
    // the N slowest kernels, then sorted by the chosen column
    let shown = rows.slice().sort((a, b) => b.time_ms - a.time_ms);
    if (topN !== "all") shown = shown.slice(0, Number(topN));
    const key = state.sortKey, dir = state.sortDir;
    const numeric = document.querySelector(`#kernels th[data-key="${key}"]`).dataset.type === "num";
    shown.sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      if (numeric) return dir * (x - y);
      const sx = String(x), sy = String(y);  // code-point order: the same in every locale
      return dir * (sx < sy ? -1 : sx > sy ? 1 : 0);
    });
    for (const th of document.querySelectorAll("#kernels th")) {
      if (th.dataset.key === key) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    const body = $("kernels").tBodies[0];
    body.textContent = "";
    for (const r of shown) {
      const tr = el("tr", { "data-kernel": r.name, "data-time-ms": String(r.time_ms) });
      tr.append(
        el("td", { class: "num" }, String(r.index)),
        el("td", {}, r.name),
        el("td", {}, r.category),
        el("td", { class: "ops" }, r.ops),
        el("td", { class: "num" }, fmt(r.time_ms)),
        el("td", { class: "num" }, fmt(r.std_ms)),
        el("td", { class: "num" }, pct(r.share)),
        el("td", { class: "num" }, fmtCount(r.flops)),
        el("td", { class: "num" }, fmtCount(r.bytes)),
        el("td", { class: "num" }, r.intensity === null ? "-" : fmt(r.intensity)),
        el("td", {}, r.modeled === false ? `${r.bound} (unmodeled)` : String(r.bound)),
      );
      body.append(tr);
    }
    $("kernel-count").textContent = `${shown.length} of ${rows.length} kernels`;
  }

  function sortBy(key) {
    if (state.sortKey === key) state.sortDir = -state.sortDir;
    else { state.sortKey = key; state.sortDir = key === "name" || key === "category" || key === "ops" || key === "index" || key === "bound" ? 1 : -1; }
    if (state.docs.length) renderKernels(kernelRows(state.docs[state.current]));
  }

  // ------------------------------------------------------------------ charts

  /** Peak GFLOP/s of the device at the document's dtype (fp32 where the dtype has none). */
  function peaks(doc) {
    const hw = (state.hardware.get(doc.hardware) || {}).hardware;
    if (!hw) return null;
    const table = hw.peak_gflops || {};
    const entry = table[doc.dtype] || table.fp32;
    const bw = hw.memory && hw.memory.dram_bandwidth_gbs;
    if (!entry || !bw) return null;
    return { gflops: entry.gflops, dtype: table[doc.dtype] ? doc.dtype : "fp32", bw: bw };
  }

  function logTicks(lo, hi) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(Math.pow(10, e));
    return out;
  }
  function tickLabel(v) {
    const e = Math.round(Math.log10(v));
    return e >= -2 && e <= 5 ? String(Number(v.toPrecision(1))) : `1e${e}`;
  }

  function renderRoofline(doc, rows, colors) {
    const box = $("roofline");
    box.textContent = "";
    const pts = rows.filter((r) => r.flops > 0 && r.bytes > 0 && r.time_ms > 0).map((r) => ({
      r: r, x: r.flops / r.bytes, y: r.flops / (r.time_ms * 1e-3) / 1e9,
    }));
    const roof = peaks(doc);
    const W = 560, H = 360, L = 62, R = 16, T = 14, B = 44;
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "roofline chart" });
    if (pts.length === 0) {
      svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no kernel with FLOPs and bytes"));
      box.append(svg);
      return;
    }
    const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
    let x0 = Math.min(...xs) / 2, x1 = Math.max(...xs) * 2;
    let y0 = Math.min(...ys) / 2, y1 = Math.max(...ys) * 2;
    if (roof) {
      const ridge = roof.gflops / roof.bw;
      x0 = Math.min(x0, ridge / 10); x1 = Math.max(x1, ridge * 10);
      y1 = Math.max(y1, roof.gflops * 2);
      y0 = Math.min(y0, roof.bw * x0);
    }
    const lx0 = Math.log10(x0), lx1 = Math.log10(x1), ly0 = Math.log10(y0), ly1 = Math.log10(y1);
    const sx = (v) => L + (Math.log10(v) - lx0) / (lx1 - lx0) * (W - L - R);
    const sy = (v) => H - B - (Math.log10(v) - ly0) / (ly1 - ly0) * (H - T - B);

    const grid = svgEl("g", { class: "axis" });
    for (const t of logTicks(x0, x1)) {
      if (t < x0 || t > x1) continue;
      grid.append(svgEl("line", { class: "gridline", x1: sx(t), x2: sx(t), y1: T, y2: H - B }));
      grid.append(svgEl("text", { x: sx(t), y: H - B + 14, "text-anchor": "middle" }, tickLabel(t)));
    }
    for (const t of logTicks(y0, y1)) {
      if (t < y0 || t > y1) continue;
      grid.append(svgEl("line", { class: "gridline", x1: L, x2: W - R, y1: sy(t), y2: sy(t) }));
      grid.append(svgEl("text", { x: L - 4, y: sy(t) + 4, "text-anchor": "end" }, tickLabel(t)));
    }
    grid.append(svgEl("line", { x1: L, x2: W - R, y1: H - B, y2: H - B }));
    grid.append(svgEl("line", { x1: L, x2: L, y1: T, y2: H - B }));
    grid.append(svgEl("text", { x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle" }, "arithmetic intensity (FLOP/byte)"));
    grid.append(svgEl("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${(T + H - B) / 2})` }, "achieved GFLOP/s"));
    svg.append(grid);

    if (roof) {
      const ridge = roof.gflops / roof.bw;
      const path = `M ${sx(x0)} ${sy(roof.bw * x0)} L ${sx(ridge)} ${sy(roof.gflops)} L ${sx(x1)} ${sy(roof.gflops)}`;
      svg.append(svgEl("path", { class: "roof", d: path }));
      svg.append(svgEl("text", { class: "roof-label", x: sx(x1) - 4, y: sy(roof.gflops) - 5, "text-anchor": "end" },
        `${fmt(roof.gflops)} GFLOP/s (${roof.dtype} peak)`));
      svg.append(svgEl("text", { class: "roof-label", x: sx(x0) + 4, y: sy(roof.bw * x0) - 6 },
        `DRAM ${fmt(roof.bw)} GB/s`));
    }
    const dots = svgEl("g", { class: "points" });
    for (const p of pts) {
      const rad = 2.5 + 6 * Math.sqrt(Math.max(p.r.share || 0, 0));
      const c = svgEl("circle", { cx: sx(p.x), cy: sy(p.y), r: rad.toFixed(2), fill: colors.get(p.r.category), "data-kernel": p.r.name });
      c.append(svgEl("title", {}, `${p.r.name} (${p.r.category}): ${fmt(p.x)} FLOP/byte, ${fmt(p.y)} GFLOP/s, ${fmtMs(p.r.time_ms)}`));
      dots.append(c);
    }
    svg.append(dots);
    box.append(svg);
    box.append(legend(colors));
    box.dataset.points = String(pts.length);
  }

  function legend(colors) {
    const div = el("div", { class: "legend" });
    for (const [cat, color] of colors) {
      const item = el("span");
      const sw = el("span", { class: "swatch" });
      sw.style.background = color;  // CSSOM, allowed by the page's style-src 'self'
      item.append(sw, cat);
      div.append(item);
    }
    return div;
  }

  function renderCategories(rows, colors) {
    const box = $("categories");
    box.textContent = "";
    const totals = new Map();
    for (const r of rows) totals.set(r.category, (totals.get(r.category) || 0) + r.time_ms);
    const cats = Array.from(totals.entries()).sort((a, b) => b[1] - a[1]);
    const sum = cats.reduce((s, [, v]) => s + v, 0);
    const max = cats.length ? cats[0][1] : 1;
    const rowH = 24, L = 130, R = 120, W = 560, H = Math.max(40, cats.length * rowH + 10);
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "time per category" });
    cats.forEach(([cat, t], i) => {
      const y = 5 + i * rowH;
      const w = max > 0 ? (t / max) * (W - L - R) : 0;
      const g = svgEl("g", { "data-category": cat, "data-time-ms": String(t) });
      g.append(svgEl("text", { x: L - 6, y: y + 15, "text-anchor": "end" }, cat));
      g.append(svgEl("rect", { x: L, y: y + 3, width: Math.max(w, 1).toFixed(2), height: rowH - 8, fill: colors.get(cat) }));
      g.append(svgEl("text", { x: L + w + 6, y: y + 15 }, `${fmtMs(t)} (${pct(sum > 0 ? t / sum : 0)})`));
      svg.append(g);
    });
    box.append(svg);
  }

  // ------------------------------------------------------------------ wiring

  function showSource() {
    const kind = source();
    for (const div of document.querySelectorAll(".source")) div.hidden = div.dataset.source !== kind;
  }

  function filterDevices() {
    const q = $("device-filter").value.trim().toLowerCase();
    for (const label of document.querySelectorAll("#devices label")) {
      label.hidden = q !== "" && !label.textContent.toLowerCase().includes(q);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const r of document.querySelectorAll('input[name="source"]')) r.addEventListener("change", showSource);
    showSource();
    $("device-filter").addEventListener("input", filterDevices);
    $("estimate-form").addEventListener("submit", submit);
    $("top-n").addEventListener("change", () => { if (state.docs.length) renderKernels(kernelRows(state.docs[state.current])); });
    for (const th of document.querySelectorAll("#kernels th")) th.addEventListener("click", () => sortBy(th.dataset.key));
    loadDevices();
  });
})();
