"""The one page `edgedigits serve` answers at `/` (a string: nothing to find on disk, nothing to package).

It works on a phone: the live annotated stream (MJPEG, or ?mode=jpeg for a JPEG refreshed on every
reading), the digits of each region in large type with their confidence and a stable mark, frames
per second and read time, pause and snapshot, the last stable readings with their crops, and a
region editor (drag rectangles on the picture, name them, save: POST /api/config). A token given
as ?token=T is passed on to every request the page makes.
"""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgedigits</title>
<style>
  :root { color-scheme: light dark; --accent: #0a7; --warn: #c70; --muted: #888; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  header { display: flex; flex-wrap: wrap; gap: .3em 1em; align-items: baseline; padding: .5em .8em;
           background: #222; color: #eee; }
  header h1 { font-size: 1.1em; margin: 0; }
  header .stat { font-variant-numeric: tabular-nums; color: #bbb; }
  main { display: grid; gap: .8em; padding: .8em; grid-template-columns: minmax(0, 3fr) minmax(16em, 2fr); }
  @media (max-width: 760px) { main { grid-template-columns: 1fr; } }
  .view { position: relative; background: #000; line-height: 0; border-radius: 6px; overflow: hidden; }
  .view img { width: 100%; height: auto; display: block; }
  .view canvas { position: absolute; inset: 0; width: 100%; height: 100%; touch-action: none; }
  .view.drawing canvas { cursor: crosshair; outline: 3px solid #fb0; }
  .bar { display: flex; flex-wrap: wrap; gap: .4em; margin: .5em 0; }
  button, .button { font: inherit; padding: .45em .8em; border-radius: 6px; border: 1px solid #999;
                    background: #f4f4f4; color: #111; text-decoration: none; cursor: pointer; }
  button.on { background: #fb0; }
  .region { border: 1px solid #8884; border-radius: 6px; padding: .4em .6em; margin-bottom: .5em; }
  .region h2 { font-size: .9em; margin: 0; color: var(--muted); font-weight: 600; }
  .line { display: flex; align-items: baseline; gap: .5em; flex-wrap: wrap; }
  .digits { font: 700 clamp(2em, 9vw, 3.4em)/1.1 ui-monospace, "DejaVu Sans Mono", monospace;
            letter-spacing: .05em; word-break: break-all; }
  .conf { color: var(--muted); font-size: .9em; }
  .mark { font-size: .85em; padding: .1em .5em; border-radius: 1em; }
  .mark.stable { background: var(--accent); color: #fff; }
  .mark.settling { background: #8883; color: var(--muted); }
  .empty { color: var(--muted); font-style: italic; }
  #history { list-style: none; padding: 0; margin: 0; }
  #history li { display: flex; gap: .6em; align-items: center; border-bottom: 1px solid #8883; padding: .3em 0; }
  #history img { max-width: 45%; max-height: 4.5em; border-radius: 4px; background: #fff; }
  #history .t { color: var(--muted); font-size: .8em; }
  #history .v { font: 700 1.3em ui-monospace, monospace; }
  #regions-list { margin: .3em 0; padding-left: 1.2em; }
  #message { color: var(--warn); min-height: 1.2em; }
  small { color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>edgedigits</h1>
  <span class="stat">frame <b id="frame">–</b></span>
  <span class="stat"><b id="fps">–</b> fps</span>
  <span class="stat">read <b id="ms">–</b> ms</span>
  <span class="stat" id="source"></span>
  <span class="stat" id="state">connecting…</span>
</header>
<main>
  <section>
    <div class="view" id="view">
      <img id="stream" alt="live annotated camera frames">
      <canvas id="overlay"></canvas>
    </div>
    <div class="bar">
      <button id="pause">Pause</button>
      <a class="button" id="snapshot" href="#" download>Snapshot</a>
      <button id="draw">Draw regions</button>
      <button id="save" hidden>Save regions</button>
      <button id="cancel" hidden>Cancel</button>
    </div>
    <div id="editor" hidden>
      <small>Drag a rectangle over the picture for each region to read, then Save.</small>
      <ol id="regions-list"></ol>
    </div>
    <div id="message"></div>
  </section>
  <section>
    <div id="readings"><p class="empty">waiting for the first reading…</p></div>
    <h2 style="font-size:1em">Last stable readings</h2>
    <ul id="history"><li class="empty">none yet</li></ul>
  </section>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token");
const mode = params.get("mode") === "jpeg" ? "jpeg" : "mjpeg";
const poll = params.get("poll") === "1";
function url(path, extra) {
  const q = new URLSearchParams(extra || {});
  if (token) q.set("token", token);
  const s = q.toString();
  return path + (s ? "?" + s : "");
}
function api(path, options) {
  options = options || {};
  options.headers = Object.assign({}, options.headers || {}, token ? {"Authorization": "Bearer " + token} : {});
  return fetch(path, options);
}
const $ = (id) => document.getElementById(id);
const stream = $("stream"), overlay = $("overlay"), view = $("view");
let paused = false, frameSize = null, latestSeq = 0, editing = null, drag = null;
let pending = false, requested = 0;   // jpeg mode: one frame.jpg at a time, always the newest

function text(el, value) { el.textContent = value; }
function el(tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = content;
  return e;
}

function refreshPicture() {
  if (mode !== "jpeg" || paused || pending || latestSeq <= requested) return;
  pending = true; requested = latestSeq;
  stream.src = url("/frame.jpg", {seq: latestSeq});
}
stream.addEventListener("load", () => {
  if (mode === "jpeg") stream.dataset.shown = requested;   // the frame number on show
  pending = false; refreshPicture();
});
stream.addEventListener("error", () => { pending = false; setTimeout(refreshPicture, 1000); });
function startStream() {
  if (mode === "mjpeg") stream.src = url("/stream.mjpg");
  else { pending = false; requested = 0; refreshPicture(); }
}
function stopStream() { pending = false; stream.src = url("/frame.jpg", {seq: latestSeq, still: 1}); }

function showReading(r) {
  latestSeq = r.frame;
  frameSize = r.size;
  text($("frame"), r.frame);
  text($("fps"), r.fps.toFixed(1));
  text($("ms"), r.ms.toFixed(0));
  const box = $("readings");
  box.replaceChildren();
  for (const [name, region] of Object.entries(r.regions)) {
    const div = el("div", "region");
    div.dataset.region = name;
    const head = el("h2", null, name === "frame" ? "whole frame" : name);
    div.append(head);
    const lines = r.lines.filter((l) => l.region === name);
    if (!lines.length) div.append(el("p", "empty", "no digits"));
    for (const line of lines) {
      const row = el("div", "line");
      row.append(el("span", "digits", line.groups.join(" ")));
      const conf = line.digits.length ? Math.min(...line.digits.map((d) => d.confidence)) : 0;
      row.append(el("span", "conf", "min. confidence " + conf.toFixed(2)));
      div.append(row);
    }
    if (lines.length) {
      const mark = el("span", "mark " + (region.stable ? "stable" : "settling"),
                      region.stable ? "✓ stable" : "settling…");
      div.append(mark);
    }
    box.append(div);
  }
  for (const w of r.warnings || []) box.append(el("p", "empty", w));
  refreshPicture();
  if (editing) drawOverlay();
}

function addHistory(entry, top) {
  const list = $("history");
  const empty = list.querySelector(".empty");
  if (empty) empty.remove();
  const li = el("li");
  if (entry.crop) { const img = el("img"); img.src = entry.crop; img.alt = "crop of " + entry.text; li.append(img); }
  const info = el("div");
  info.append(el("div", "v", entry.text.replace(/\n/g, " | ")));
  info.append(el("div", "t", (entry.region === "frame" ? "" : entry.region + " · ") +
                 new Date(entry.timestamp * 1000).toLocaleTimeString()));
  li.append(info);
  if (top) list.prepend(li); else list.append(li);
  while (list.children.length > 20) list.lastChild.remove();
}

async function loadHistory() {
  const res = await api(url("/api/history", {n: 20}));
  if (!res.ok) return;
  const data = await res.json();
  $("history").replaceChildren(el("li", "empty", "none yet"));
  for (const entry of data.readings.slice().reverse()) addHistory(entry, false);
}

async function loadLatest() {
  const res = await api(url("/api/latest"));
  if (res.ok) { showReading(await res.json()); text($("state"), "live"); }
}

function connect() {
  if (poll || !window.EventSource) {
    setInterval(() => { if (!paused) loadLatest().catch(() => text($("state"), "offline")); }, 700);
    return;
  }
  const events = new EventSource(url("/api/events"));
  events.onmessage = (e) => { text($("state"), paused ? "paused" : "live"); if (!paused) showReading(JSON.parse(e.data)); };
  events.addEventListener("stable", (e) => addHistory(JSON.parse(e.data), true));
  events.onerror = () => text($("state"), "reconnecting…");
}

$("pause").onclick = () => {
  paused = !paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
  $("pause").classList.toggle("on", paused);
  text($("state"), paused ? "paused" : "live");
  if (paused) stopStream(); else startStream();
};
$("snapshot").onclick = (e) => { $("snapshot").href = url("/frame.jpg", {download: 1, seq: latestSeq}); };

// ---- regions of interest
function toFrame(ev) {
  const rect = overlay.getBoundingClientRect();
  const sx = frameSize[0] / rect.width, sy = frameSize[1] / rect.height;
  return [Math.max(0, Math.round((ev.clientX - rect.left) * sx)), Math.max(0, Math.round((ev.clientY - rect.top) * sy))];
}
function drawOverlay() {
  const rect = overlay.getBoundingClientRect();
  overlay.width = rect.width; overlay.height = rect.height;
  const g = overlay.getContext("2d");
  g.clearRect(0, 0, overlay.width, overlay.height);
  if (!editing || !frameSize) return;
  const sx = rect.width / frameSize[0], sy = rect.height / frameSize[1];
  g.lineWidth = 2; g.font = "14px sans-serif";
  const boxes = Object.entries(editing).concat(drag ? [["…", drag.box]] : []);
  for (const [name, b] of boxes) {
    g.strokeStyle = "#fb0"; g.fillStyle = "rgba(255,187,0,.15)";
    g.fillRect(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy);
    g.strokeRect(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy);
    g.fillStyle = "#fb0"; g.fillText(name, b[0] * sx + 4, b[1] * sy + 16);
  }
}
function listRegions() {
  const list = $("regions-list");
  list.replaceChildren();
  for (const [name, b] of Object.entries(editing)) {
    const li = el("li", null, name + ": " + b.join(", ") + " ");
    const del = el("button", null, "remove");
    del.onclick = () => { delete editing[name]; listRegions(); drawOverlay(); };
    li.append(del);
    list.append(li);
  }
}
function setEditing(on) {
  view.classList.toggle("drawing", on);
  $("draw").classList.toggle("on", on);
  $("editor").hidden = !on; $("save").hidden = !on; $("cancel").hidden = !on;
  if (!on) { editing = null; drawOverlay(); }
}
$("draw").onclick = async () => {
  if (editing) { setEditing(false); return; }
  const res = await api(url("/api/config"));
  if (!res.ok) { text($("message"), "cannot load the regions"); return; }
  editing = (await res.json()).regions;
  setEditing(true); listRegions(); drawOverlay();
};
$("cancel").onclick = () => setEditing(false);
overlay.addEventListener("pointerdown", (ev) => {
  if (!editing || !frameSize) return;
  overlay.setPointerCapture(ev.pointerId);
  const p = toFrame(ev);
  drag = {start: p, box: [p[0], p[1], 0, 0]};
});
overlay.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  const p = toFrame(ev), s = drag.start;
  drag.box = [Math.min(s[0], p[0]), Math.min(s[1], p[1]), Math.abs(p[0] - s[0]), Math.abs(p[1] - s[1])];
  drawOverlay();
});
overlay.addEventListener("pointerup", () => {
  if (!drag) return;
  const box = drag.box; drag = null;
  if (box[2] >= 8 && box[3] >= 8) {
    let name = prompt("Name of this region (letters, digits, - or _):", "region" + (Object.keys(editing).length + 1));
    if (name && /^[A-Za-z0-9_-]{1,32}$/.test(name) && name !== "frame") editing[name] = box;
    else if (name) text($("message"), "a region name is 1-32 letters, digits, - or _ (and not 'frame')");
  }
  listRegions(); drawOverlay();
});
$("save").onclick = async () => {
  const res = await api(url("/api/config"), {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({regions: editing})});
  const data = await res.json().catch(() => ({}));
  if (!res.ok) { text($("message"), data.error || "saving failed"); return; }
  text($("message"), data.saved ? "regions saved" : (data.note || "regions in use"));
  setEditing(false);
};
window.addEventListener("resize", drawOverlay);

api(url("/healthz")).then((r) => r.json()).then((h) => {
  text($("source"), (h.source || "") + " · " + (h.format || "") + " · stable " + h.stable);
}).catch(() => {});
startStream();
loadLatest().catch(() => {});
loadHistory().catch(() => {});
connect();
</script>
</body>
</html>
"""
