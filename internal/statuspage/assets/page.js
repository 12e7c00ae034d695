// The status page: the topology's Mermaid description drawn by Mermaid, and a table of the
// tasks read from the status endpoint every second. Everything is fetched relative to the
// page, so the handler can be mounted under any path.
"use strict";

const $ = (s) => document.querySelector(s);

// el makes an element with text content (never HTML) and optional attributes.
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

async function drawTopology() {
  const box = $("#diagram");
  try {
    const resp = await fetch("topology");
    if (!resp.ok) throw new Error("topology: " + resp.status);
    const text = await resp.text();
    $("#mermaid-source").textContent = text;
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    const { svg } = await mermaid.render("topology-svg", text);
    box.innerHTML = svg; // Mermaid's own output, its labels escaped (securityLevel strict)
    box.dataset.rendered = "yes";
  } catch (err) {
    box.textContent = "The diagram did not render: " + err;
    box.dataset.rendered = "error";
  }
}

// taskState is what a task's row is coloured by: restoring, else the largest of its busy,
// backpressured and idle times.
function taskState(t) {
  if (t.state === "restoring") return "restoring";
  const b = t.busy_ms_per_s, p = t.backpressured_ms_per_s, i = t.idle_ms_per_s;
  if (p >= b && p >= i) return "backpressured";
  if (b >= i) return "busy";
  return "idle";
}

function timeBar(t) {
  const cell = el("td");
  const bar = el("div", null, { class: "bar" });
  for (const [k, v] of [["busy", t.busy_ms_per_s], ["backpressured", t.backpressured_ms_per_s], ["idle", t.idle_ms_per_s]]) {
    bar.append(el("span", null, { class: k, style: "width:" + Math.max(0, Math.min(100, v / 10)) + "%", title: k + " " + Math.round(v) + " ms/s" }));
  }
  cell.append(bar, el("div", "busy " + Math.round(t.busy_ms_per_s) + " · backpressured " + Math.round(t.backpressured_ms_per_s) +
    " · idle " + Math.round(t.idle_ms_per_s), { class: "small" }));
  return cell;
}

function partitions(t) {
  const cell = el("td");
  for (const p of t.partitions) {
    const flags = [p.internal && "internal", p.idle && "idle", p.paused && "paused"].filter(Boolean);
    const lag = p.lag < 0 ? "lag ?" : "lag " + p.lag + (p.lag_time ? " (" + p.lag_time + ")" : "");
    const wm = p.watermark ? ", watermark " + p.watermark : "";
    cell.append(el("div", p.topic + "/" + p.partition + ": " + lag + ", queued " + p.queued + wm + (flags.length ? " [" + flags.join(", ") + "]" : ""),
      { "data-partition": p.topic + "/" + p.partition }));
  }
  return cell;
}

function stores(t) {
  const cell = el("td");
  for (const s of t.stores || []) {
    cell.append(el("div", s.name + ": " + bytes(s.bytes) + ", " + Math.round(100 * s.cache_hit_ratio) + "% of reads cached"));
  }
  for (const r of t.restores || []) {
    cell.append(el("div", "restoring " + r.store + ": " + Math.round(100 * r.progress) + "%, " + r.remaining + " left at " +
      Math.round(r.rate) + "/s", { class: "small" }));
  }
  return cell;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function render(st) {
  $("#app").textContent = st.application;
  const summary = $("#summary");
  summary.textContent = st.state + (st.ready ? ", ready" : ", not ready") + " — " + st.tasks.length + " tasks on this instance; updated " +
    new Date().toLocaleTimeString();
  summary.className = st.state;
  summary.dataset.state = st.state;
  const rows = [];
  for (const t of st.tasks) {
    const state = taskState(t);
    const tr = el("tr", null, { class: state, "data-task": t.id, "data-state": state });
    tr.append(el("td", t.id), el("td", t.worker), el("td", t.state === "restoring" ? "restoring" : state), timeBar(t),
      el("td", t.records_per_s.toFixed(1)), el("td", t.process_latency), el("td", t.watermark || "–"),
      el("td", t.watermark_lag || "–"), partitions(t), stores(t));
    rows.push(tr);
  }
  $("#tasks tbody").replaceChildren(...rows);
}

async function poll() {
  try {
    const resp = await fetch("status", { cache: "no-store" });
    if (!resp.ok) throw new Error("status: " + resp.status);
    render(await resp.json());
  } catch (err) {
    $("#summary").textContent = "The instance does not answer: " + err;
    $("#summary").dataset.state = "unreachable";
  }
  setTimeout(poll, 1000);
}

drawTopology();
poll();
