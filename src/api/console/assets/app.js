// The stepsim console: hash routes, each rendered from the JSON endpoints under
// /console/api/, re-read every 1.5 s while the page is open (re-rendered only on change).
"use strict";

const POLL_MS = 1500;
const view = document.getElementById("view");
let timer = null;
let lastText = null;
// Per-page choices that survive a poll: the execution page's selected state and history page.
const ui = { state: null, page: 0 };

// Builds an element: h("td", {class: "num"}, "text", child...). Strings become text nodes,
// so nothing from the server is ever parsed as HTML (the server-made SVG aside).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return el;
}

async function getJson(path) {
  const r = await fetch("/console/api/" + path, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function link(hash, text) { return h("a", { href: hash }, text); }
function enc(s) { return encodeURIComponent(s); }
function status(s) { return h("span", { class: "status status-" + s }, s); }
function seconds(ms) { return (ms / 1000).toFixed(3) + " s"; }
function table(head, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, head.map(c => h("th", { class: c.endsWith("#") ? "num" : null }, c.replace(/#$/, ""))))),
    h("tbody", {}, rows));
}
function panel(...children) { return h("div", { class: "panel" }, children); }

function executionRows(list) {
  return list.map(e => h("tr", {},
    h("td", {}, link("#/execution/" + enc(e.arn), e.name)),
    h("td", {}, link("#/machine/" + enc(e.machine), e.machineName)),
    h("td", {}, status(e.status)),
    h("td", {}, e.start),
    h("td", {}, e.stop || "—"),
    h("td", { class: "num" }, seconds(e.durationMs))));
}
const EXEC_HEAD = ["Name", "State machine", "Status", "Started (simulated)", "Ended (simulated)", "Duration#"];

const routes = [
  [/^#?\/?$/, async () => {
    const d = await getJson("machines");
    return [h("h1", {}, "State machines"), panel(table(["Name", "Type", "Created", "Executions#"],
      d.machines.map(m => h("tr", {},
        h("td", {}, link("#/machine/" + enc(m.arn), m.name)), h("td", {}, m.type),
        h("td", {}, m.created), h("td", { class: "num" }, m.executions)))))];
  }],
  [/^#\/machine\/(.+)$/, async (arn) => {
    const [m, ex] = await Promise.all([getJson("machine?arn=" + enc(arn)), getJson("executions?machine=" + enc(arn))]);
    const graph = h("div", { class: "graph" });
    graph.innerHTML = m.svg;
    return [h("h1", {}, m.name), h("p", { class: "muted" }, m.arn + " · " + m.type),
      h("div", { class: "cols" }, panel(h("h2", {}, "Graph"), graph),
        panel(h("h2", {}, "Executions"), table(EXEC_HEAD, executionRows(ex.executions))))];
  }],
  [/^#\/executions$/, async () => {
    const d = await getJson("executions");
    return [h("h1", {}, "Executions"), panel(table(EXEC_HEAD, executionRows(d.executions)))];
  }],
  [/^#\/execution\/(.+)$/, executionPage],
  [/^#\/functions$/, async () => {
    const d = await getJson("functions");
    return [h("h1", {}, "Lambda functions"), ...d.functions.map(f => panel(
      h("h2", {}, f.name), h("p", { class: "muted" }, `${f.kind} · ${f.runtime} · ${f.memoryMb} MB · timeout ${f.timeoutS} s · ${f.logGroup}`),
      f.streams.length === 0 ? h("p", { class: "muted" }, "No log streams yet.") :
        table(["Log stream", "Bytes#"], f.streams.map(s => h("tr", {},
          h("td", {}, link("#/logs/" + enc(f.logGroup) + "/" + enc(s.name), s.name)),
          h("td", { class: "num" }, s.bytes))))))];
  }],
  [/^#\/logs\/([^/]+)\/(.+)$/, async (group, stream) => {
    const d = await getJson("logs?group=" + enc(group) + "&stream=" + enc(stream));
    return [h("h1", {}, stream), h("p", { class: "muted" }, group), panel(table(["Time", "Message"],
      d.events.map(e => h("tr", {}, h("td", {}, new Date(e.timestamp).toISOString()), h("td", {}, h("pre", {}, e.message))))))];
  }],
  [/^#\/s3$/, async () => {
    const d = await getJson("buckets");
    return [h("h1", {}, "S3 buckets"), panel(table(["Bucket"],
      d.buckets.map(b => h("tr", {}, h("td", {}, link("#/s3/" + enc(b) + "/", b))))))];
  }],
  [/^#\/s3\/([^/]+)\/(.*)$/, async (bucket, prefix) => {
    const d = await getJson("objects?bucket=" + enc(bucket) + "&prefix=" + enc(prefix));
    return [h("h1", {}, bucket + "/" + prefix), panel(table(["Key", "Size#", "Last modified"], [
      ...d.prefixes.map(p => h("tr", {}, h("td", {}, link("#/s3/" + enc(bucket) + "/" + enc(p), p)), h("td", {}), h("td", {}))),
      ...d.objects.map(o => h("tr", {}, h("td", {}, o.key), h("td", { class: "num" }, o.size), h("td", {}, o.lastModified)))]),
      d.next ? h("p", { class: "muted" }, "More than 100 keys: narrow the prefix.") : null)];
  }],
];

async function executionPage(arn) {
  const e = await getJson("execution?arn=" + enc(arn));
  const hist = await getJson("history?arn=" + enc(arn) + "&page=" + ui.page);
  const graph = h("div", { class: "graph", id: "execution-graph" });
  graph.innerHTML = e.svg;
  const detail = h("div", { id: "state-detail" });
  const showState = (name) => {
    ui.state = name;
    graph.querySelectorAll(".state").forEach(g => g.classList.toggle("selected", g.dataset.state === name));
    detail.replaceChildren();
    const s = e.states[name];
    if (!s) return;
    detail.append(h("h2", {}, name), h("p", {}, h("span", { class: "status st-" + s.status }, s.label),
      ` · entered ${s.entered}, exited ${s.exited}`),
      h("h2", {}, "Input"), h("pre", { id: "state-input" }, JSON.stringify(s.input, null, 2) ?? "—"),
      h("h2", {}, "Output"), h("pre", { id: "state-output" }, JSON.stringify(s.output, null, 2) ?? "—"));
  };
  graph.querySelectorAll(".state").forEach(g => g.addEventListener("click", () => showState(g.dataset.state)));
  if (ui.state) showState(ui.state);
  else detail.append(h("p", { class: "muted" }, "Click a state to see its input and output."));
  const stateRows = Object.entries(e.states).map(([name, s]) => h("tr", { class: "state-row" },
    h("td", {}, name), h("td", { class: "state-status st-" + s.status }, s.label),
    h("td", { class: "num" }, s.entered), h("td", { class: "num" }, s.exited)));
  return [
    h("h1", {}, e.name, " ", status(e.status)),
    h("p", { class: "muted" }, `${e.arn} · started ${e.start} · ${e.stop ? "ended " + e.stop : "running"} · ${seconds(e.durationMs)} simulated${e.redriveCount ? ` · redriven ${e.redriveCount}×` : ""}`),
    e.error ? panel(h("b", {}, e.error), h("pre", {}, e.cause || "")) : null,
    h("div", { class: "cols" }, panel(h("h2", {}, "Graph"), graph), panel(detail)),
    h("div", { class: "cols" },
      panel(h("h2", {}, "States"), table(["State", "Status", "Entered#", "Exited#"], stateRows)),
      billPanel(e.bill)),
    e.mapRuns && e.mapRuns.length ? mapRunsPanel(e.mapRuns) : null,
    panel(h("h2", {}, "Timeline (virtual time)"), gantt(e.timeline)),
    panel(h("h2", {}, `Event history (${hist.total} events)`), historyTable(hist)),
  ];
}

function mapRunsPanel(runs) {
  const counts = c => `${c.succeeded} ok · ${c.failed} failed · ${c.timedOut} timed out · ${c.aborted} aborted · ${c.running} running / ${c.total}`;
  return panel(h("h2", {}, "Map runs"),
    table(["Map", "Status", "Started ms#", "Stopped ms#", "Max concurrency#", "Child executions", "Items"], runs.map(r =>
      h("tr", { class: "map-run-row" }, h("td", { title: r.arn }, r.label), h("td", {}, r.status),
        h("td", { class: "num" }, r.startMs), h("td", { class: "num" }, r.stopMs ?? "—"),
        h("td", { class: "num" }, r.maxConcurrency || "—"),
        h("td", {}, counts(r.executions)), h("td", {}, counts(r.items))))),
    ...runs.filter(r => r.children && r.children.length).map(r => h("div", { class: "map-run-children" },
      h("h2", {}, `${r.label}: child executions (first ${r.children.length}, unsuccessful first)`),
      table(["Child", "Status"], r.children.map(c => h("tr", { class: "map-run-child" },
        h("td", {}, c.described ? link("#/execution/" + enc(c.arn), c.name) : c.name),
        h("td", {}, status(c.status))))))));
}

function billPanel(bill) {
  if (!bill) return panel(h("h2", {}, "Bill"), h("p", { class: "muted" }, "Shown when the execution ends."));
  return panel(h("h2", {}, "Bill"),
    h("p", {}, "Total ", h("span", { class: "total", id: "bill-total" }, bill.totalUsd), " USD"),
    bill.note ? h("p", { class: "muted" }, bill.note) : null,
    table(["Component", "Quantity#", "Unit", "USD#"], bill.lines.map(l => h("tr", {},
      h("td", { title: l.description }, l.component), h("td", { class: "num" }, +l.quantity.toFixed(3)),
      h("td", {}, l.unit), h("td", { class: "num" }, l.amountUsd)))),
    bill.functions.length ? table(["Function", "Invocations#", "Cold starts#", "Billed ms#"], bill.functions.map(f =>
      h("tr", {}, h("td", {}, f.name), h("td", { class: "num" }, f.invocations),
        h("td", { class: "num" }, f.coldStarts), h("td", { class: "num" }, f.billedMs)))) : null);
}

// A Gantt chart of the states and Lambda invocations, drawn as SVG on virtual time.
function gantt(t) {
  const NS = "http://www.w3.org/2000/svg";
  const bars = [...t.states.map(s => ({ label: s.name, start: s.startMs, end: s.endMs, kind: "state" })),
    ...t.lambdas.map(l => ({ label: "λ " + l.function + (l.cold ? " (cold)" : ""), start: l.startMs,
      end: l.startMs + l.initMs + l.durationMs, init: l.initMs, kind: "lambda" }))];
  if (bars.length === 0) return h("p", { class: "muted" }, "Nothing ran yet.");
  const span = Math.max(1, t.endMs, ...bars.map(b => b.end));
  const W = 900, LABEL = 230, ROW = 16;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "gantt");
  svg.setAttribute("width", W);
  svg.setAttribute("height", bars.length * ROW + 24);
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  const x = ms => LABEL + (W - LABEL - 10) * ms / span;
  bars.forEach((b, i) => {
    const y = i * ROW + 4;
    el("text", { x: 4, y: y + 11 }, b.label.length > 34 ? b.label.slice(0, 33) + "…" : b.label);
    const r = el("rect", { x: x(b.start), y, width: Math.max(1, x(b.end) - x(b.start)), height: ROW - 4, class: "bar-" + b.kind });
    r.appendChild(document.createElementNS(NS, "title")).textContent = `${b.label}: ${b.start.toFixed(1)} → ${b.end.toFixed(1)} ms`;
    if (b.init) el("rect", { x: x(b.start), y, width: Math.max(1, x(b.start + b.init) - x(b.start)), height: ROW - 4, class: "bar-init" });
  });
  el("text", { x: LABEL, y: bars.length * ROW + 18 }, "0 ms");
  el("text", { x: W - 10, y: bars.length * ROW + 18, "text-anchor": "end" }, span.toFixed(0) + " ms");
  return h("div", {}, svg, h("p", { class: "muted" }, "Blue: states · green: Lambda invocations · orange: cold-start INIT",
    t.truncated ? " · only the first 500 bars are drawn" : ""));
}

function historyTable(hist) {
  const pager = h("div", { class: "pager" },
    h("button", { onclick: () => { ui.page = Math.max(0, hist.page - 1); refresh(true); }, ...(hist.page === 0 ? { disabled: "" } : {}) }, "Previous"),
    h("span", {}, `page ${hist.page + 1} of ${hist.pages}`),
    h("button", { onclick: () => { ui.page = hist.page + 1; refresh(true); }, ...(hist.page + 1 >= hist.pages ? { disabled: "" } : {}) }, "Next"));
  return h("div", {}, pager, table(["ID#", "Type", "Elapsed#", "Timestamp", "Details"], hist.events.map(ev => {
    const keys = Object.keys(ev).filter(k => k.endsWith("EventDetails"));
    const details = keys.length ? JSON.stringify(ev[keys[0]]) : "";
    return h("tr", {}, h("td", { class: "num" }, ev.id), h("td", {}, ev.type), h("td", { class: "num" }, ev.elapsedMs + " ms"),
      h("td", {}, ev.timestamp), h("td", {}, details.length > 200 ? details.slice(0, 199) + "…" : details));
  })));
}

async function refresh(force) {
  const hash = location.hash || "#/";
  for (const [re, render] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    try {
      const parts = await render(...m.slice(1).map(decodeURIComponent));
      // Re-render only when something changed, so a poll does not reset scrolling.
      const probe = h("div", {}, parts);
      const text = probe.innerHTML;
      if (force || text !== lastText) {
        lastText = text;
        view.replaceChildren(...probe.childNodes);
        if (ui.state && hash.startsWith("#/execution/")) {
          const g = view.querySelector(`.state[data-state="${CSS.escape(ui.state)}"]`);
          if (g) g.dispatchEvent(new Event("click"));
        }
      }
    } catch (err) {
      view.replaceChildren(h("h1", {}, "Error"), h("p", {}, String(err.message || err)));
      lastText = null;
    }
    return;
  }
  view.replaceChildren(h("h1", {}, "Not found"), h("p", {}, hash));
}

window.addEventListener("hashchange", () => { ui.state = null; ui.page = 0; refresh(true); });
refresh(true);
timer = setInterval(() => refresh(false), POLL_MS);
