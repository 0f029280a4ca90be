// The lambda-emulator inspector's page (SPEC EMU-5): loads the list of invocations, keeps it
// live with server-sent events, and shows the one selected (also by `#<id>` in the address).
// Everything shown comes from the function's traffic, so it is only ever set as text, never as
// HTML.
"use strict";

const rows = document.getElementById("rows");
const detail = document.getElementById("detail");
const live = document.getElementById("live");
const summaries = new Map();
let selected = null;

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function clock(epochMs) {
  const time = new Date(epochMs);
  const pad = (n, width) => String(n).padStart(width || 2, "0");
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
}

function ms(value) {
  return value === null || value === undefined ? "" : `${value.toFixed(value < 100 ? 2 : 0)} ms`;
}

function statusBadge(summary) {
  if (summary.state !== "done") return el("span", { class: "status running" }, "…");
  const status = summary.status || 0;
  // A function error behind a 200 (the Invoke API's way) shows as a failure too.
  const failed = summary.reportStatus && summary.reportStatus !== "success";
  const kind = failed && status < 500 ? "s5" : `s${Math.floor(status / 100)}`;
  return el("span", { class: `status ${kind}`, title: summary.errorType || "" }, status || "—");
}

function row(summary) {
  const startUp = summary.startUp
    ? `${summary.startUp.kind === "restore" ? "restore " : ""}${ms(summary.startUp.ms)}`
    : "";
  const tr = el(
    "tr",
    { "data-id": summary.id, "data-request-id": summary.requestId || "", class: summary.id === selected ? "selected" : null },
    el("td", null, clock(summary.time)),
    el("td", { class: "source" }, summary.source),
    el("td", { class: "request", title: `${summary.method} ${summary.target}` },
      el("span", { class: "method" }, summary.method), summary.target),
    el("td", null, statusBadge(summary)),
    el("td", { class: "num" }, startUp),
    el("td", { class: "num" }, ms(summary.durationMs)),
  );
  tr.addEventListener("click", () => {
    location.hash = String(summary.id);
  });
  return tr;
}

function renderList() {
  rows.replaceChildren();
  const newestFirst = [...summaries.values()].sort((a, b) => b.id - a.id);
  if (newestFirst.length === 0) {
    rows.append(el("tr", { class: "empty" }, el("td", { colspan: 6 }, "No invocations yet: send a request to the front door.")));
    return;
  }
  for (const summary of newestFirst) rows.append(row(summary));
}

function upsert(summary) {
  summaries.set(summary.id, summary);
  const existing = rows.querySelector(`tr[data-id="${summary.id}"]`);
  if (existing) {
    existing.replaceWith(row(summary));
  } else {
    renderList();
  }
  if (summary.id === selected && summary.state === "done") show(summary.id);
}

// Text as the page shows it: pretty JSON when it is JSON.
function pretty(captured) {
  if (!captured) return "";
  if (captured.dropped) return captured.dropped;
  if (captured.text === undefined) return `(binary, ${captured.size} bytes, base64)\n${captured.base64 || ""}`;
  try {
    return JSON.stringify(JSON.parse(captured.text), null, 2);
  } catch (_) {
    return captured.text;
  }
}

function block(title, captured, id) {
  const parts = [el("h4", null, title)];
  if (captured && captured.note) parts.push(el("p", { class: "note" }, captured.note));
  if (captured && captured.decodedFromBase64) parts.push(el("p", { class: "note" }, "decoded from base64"));
  parts.push(el("pre", { id }, pretty(captured)));
  return parts;
}

function responseSection(response) {
  const section = [el("h3", null, "Response")];
  if (!response) {
    section.push(el("p", { class: "placeholder" }, "The invocation is still running."));
    return section;
  }
  switch (response.kind) {
    case "buffered":
      section.push(...block("What the function returned", response.payload, "response-payload"));
      if (response.body) section.push(...block("The HTTP body in it", response.body, "response-body"));
      break;
    case "streamed":
      section.push(...block("Prelude", { text: JSON.stringify(response.prelude) }, "response-prelude"));
      section.push(...block("Body, as streamed", response.body, "response-body"));
      if (!response.completed) section.push(el("p", { class: "note" }, "the stream broke off"));
      if (response.errorType) section.push(el("p", { class: "error-type" }, `ended with ${response.errorType}`));
      break;
    case "error":
      section.push(el("p", { class: "error-type" }, response.errorType || "error"));
      section.push(...block("The error the function reported", response.payload, "response-payload"));
      break;
    case "not-invoked":
    case "crashed":
    case "timeout":
      section.push(el("p", { class: "error-type" }, response.errorType || response.kind));
      section.push(el("pre", { id: "response-payload" }, response.message || ""));
      break;
    default:
      section.push(el("pre", { id: "response-payload" }, JSON.stringify(response, null, 2)));
  }
  return section;
}

function logsSection(logs) {
  const section = [el("h3", null, `Log lines while it ran (${logs.length})`)];
  if (logs.length === 0) {
    section.push(el("p", { class: "placeholder" }, "Nothing was printed."));
    return section;
  }
  const list = el("ol", { class: "logs", id: "logs" });
  for (const line of logs) {
    list.append(el("li", null,
      el("span", { class: "offset" }, `+${Math.max(0, line.offsetMs).toFixed(1)} ms`),
      el("span", { class: `origin ${line.origin}` }, line.origin),
      line.text));
  }
  section.push(list);
  return section;
}

function render(record) {
  const facts = el("dl", { class: "facts" });
  const fact = (name, value) => {
    if (value === null || value === undefined || value === "") return;
    facts.append(el("dt", null, name), el("dd", null, value));
  };
  fact("request id", record.requestId);
  fact("source", record.source);
  fact("client", record.client);
  fact("environment", record.environment ? `#${record.environment}` : null);
  fact("answer", record.delivery);
  fact("duration", ms(record.durationMs));
  if (record.startUp) fact(record.startUp.kind === "restore" ? "restore" : "init", ms(record.startUp.ms));
  fact("REPORT status", record.reportStatus);
  fact("error type", record.errorType);
  detail.className = "";
  detail.replaceChildren(
    el("div", { class: "detail-head" },
      statusBadge(record),
      el("h2", { id: "detail-request" }, `${record.method} ${record.target}`)),
    facts,
    el("h3", null, "Event, as sent to the function"),
    ...block("", record.event, "event-json").slice(1),
    ...responseSection(record.response),
    ...logsSection(record.logs || []),
    el("h3", null, "REPORT"),
    el("pre", { id: "report" }, record.report || "(none: the function was not invoked)"),
  );
}

async function show(id) {
  selected = id;
  for (const tr of rows.querySelectorAll("tr.selected")) tr.classList.remove("selected");
  const tr = rows.querySelector(`tr[data-id="${id}"]`);
  if (tr) tr.classList.add("selected");
  const response = await fetch(`/api/invocations/${id}`);
  if (!response.ok) {
    detail.className = "placeholder";
    detail.textContent = `Invocation ${id} is no longer kept (the inspector keeps the last 200).`;
    return;
  }
  if (id === selected) render(await response.json());
}

function fromHash() {
  const id = Number(location.hash.slice(1));
  if (Number.isInteger(id) && id > 0) show(id);
}

async function loadList() {
  const response = await fetch("/api/invocations");
  summaries.clear();
  for (const summary of await response.json()) summaries.set(summary.id, summary);
  renderList();
}

async function loadInfo() {
  const info = await (await fetch("/api/info")).json();
  document.getElementById("info").textContent =
    `${info.functionName} · ${info.source} events on ${info.frontDoor} · timeout ${info.timeoutSeconds} s`;
}

function connect() {
  const events = new EventSource("/api/stream");
  events.onopen = () => {
    live.textContent = "live";
    live.className = "live on";
  };
  events.onerror = () => {
    live.textContent = "reconnecting…";
    live.className = "live waiting";
  };
  events.addEventListener("invocation", (event) => upsert(JSON.parse(event.data)));
  events.addEventListener("reload", () => loadList());
}

window.addEventListener("hashchange", fromHash);
loadInfo();
loadList().then(() => {
  connect();
  fromHash();
});
