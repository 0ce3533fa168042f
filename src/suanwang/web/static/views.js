// The nodes table (capacity, load, reported metrics) and the digital-twin runs with their
// comparison plot.

import { keyRow, replaceRows } from "./access.js";
import { blobUrl, get, getText, post } from "./api.js";
import { lineChart } from "./chart.js";
import { t } from "./i18n.js";
import { slaPercent } from "./series.js";
import { freeDevices, loadColour, nodeLoads } from "./load.js";
import { markRow, showTrust } from "./trust.js";

const $ = (selector) => document.querySelector(selector);
const NODE_ROWS = 300; // a table longer than this helps nobody; filter by site instead
const SVG = "http://www.w3.org/2000/svg";

function bar(share) {
  const cell = document.createElement("td");
  const meter = document.createElement("span");
  meter.className = "bar";
  meter.style.width = `${Math.round(100 * share)}%`;
  meter.style.background = loadColour(share);
  cell.append(meter, ` ${(100 * share).toFixed(0)}%`);
  return cell;
}

function cells(tr, values) {
  for (const value of values) {
    const td = document.createElement("td");
    td.textContent = value;
    tr.append(td);
  }
}

/** Nodes of the chosen site (or all): L0 capacity, live load, free devices; a click shows
 * its metrics. */
export function showNodes(state) {
  const site = $("#node-site").value;
  const nodes = state.nodes.filter((n) => !site || n.site_id === site).slice(0, NODE_ROWS);
  const loads = nodeLoads(state.load, nodes);
  replaceRows(
    $("#nodes tbody"),
    nodes.map((n) => {
      const tr = document.createElement("tr");
      tr.dataset.id = n.id;
      const l = loads.get(n.id);
      const accel = l ? freeDevices(l.accel) : n.accelerators.map((a) => `${a.count}×${a.kind}`).join(" ");
      cells(tr, [n.id, n.site_id, n.state, n.cpu_cores, n.mem_gib, accel || "-"]);
      markRow(tr, tr.children[2], n);
      tr.append(bar(l ? l.cpu : 0));
      tr.append(bar(l ? l.mem : 0));
      keyRow(tr, () => showNodeMetrics(state, n));
      return tr;
    }),
  );
}

/** The node's trust (claimed against measured) and what its agent last reported: L0 values,
 * L1 per category, the L2 score. */
async function showNodeMetrics(state, node) {
  const box = $("#node-detail");
  box.replaceChildren();
  const head = document.createElement("h3");
  head.textContent = `${node.id} · ${node.arch} · ${node.price_per_hour}/h`;
  const trust = document.createElement("div");
  box.append(head, trust);
  showTrust(trust, node); // its own reads, beside the metrics'
  const line = document.createElement("p");
  box.append(line);
  try {
    const levels = await get(`/v1/nodes/${encodeURIComponent(node.id)}/levels`);
    const names = Object.keys(levels.l0).sort();
    if (!names.length) {
      line.textContent = "No agent has reported metrics for this node yet.";
      return;
    }
    line.textContent = `L2 ${levels.l2.toFixed(1)} / 10 · reported ${levels.age_s.toFixed(1)} s ago`;
    line.className = "levels";
    const table = document.createElement("table");
    table.className = "levels";
    for (const [category, score] of Object.entries(levels.l1)) {
      const tr = document.createElement("tr");
      cells(tr, ["L1", category, score === null ? "-" : score.toFixed(1)]);
      table.append(tr);
    }
    for (const name of names) {
      const tr = document.createElement("tr");
      cells(tr, ["L0", name, Number(levels.l0[name]).toPrecision(4)]);
      table.append(tr);
    }
    box.append(table);
  } catch (error) {
    // Consumers may not read agents' reports (403): say so instead of failing silently.
    line.textContent = `Metrics not shown: ${error.message}`;
  }
}

// ---- twin runs -----------------------------------------------------------------------------

export async function twinSetup(state) {
  // Runs started earlier (in another tab, or by the CLI) are shown too.
  const earlier = (await get("/v1/twin-runs")).map((run) => run.id);
  state.twinRuns = [...new Set([...earlier, ...(state.twinRuns || [])])];
  const scenarios = await get("/v1/scenarios");
  const select = $("#twin-scenario");
  select.replaceChildren(new Option(`live (${scenarios.live})`, ""));
  for (const b of scenarios.builtins) select.append(new Option(b.name, b.name));
  const box = $("#twin-profiles");
  box.querySelectorAll("label").forEach((label) => label.remove());
  for (const profile of scenarios.profiles) {
    const label = document.createElement("label");
    const check = document.createElement("input");
    Object.assign(check, { type: "checkbox", name: "profile", value: profile });
    check.checked = profile === "cats-joint" || profile === "nearest";
    label.append(check, ` ${profile}`);
    box.append(label);
  }
}

/** One run per chosen profile on the same seed, so that the comparison is like for like. */
export async function startTwin(state, form) {
  const profiles = form.getAll("profile");
  const status = $("#twin-status");
  if (!profiles.length) {
    status.textContent = "Choose at least one profile.";
    return;
  }
  const body = { duration_s: Number(form.get("duration_s")) || 30, seed: 1 };
  if (form.get("scenario")) body.scenario = form.get("scenario");
  try {
    for (const profile of profiles) {
      const run = await post("/v1/twin-runs", { ...body, profile });
      state.twinRuns.push(run.id);
    }
    status.textContent = `Started ${profiles.length} run(s).`;
  } catch (error) {
    status.textContent = `Refused: ${error.message}`;
  }
  await showTwin(state);
}

export async function showTwin(state) {
  if (!state.twinRuns?.length) return;
  state.twinImages = state.twinImages || new Map();
  const runs = await Promise.all(state.twinRuns.map((id) => get(`/v1/twin-runs/${id}`)));
  const list = $("#twin-runs");
  list.replaceChildren();
  for (const run of runs) {
    const card = document.createElement("div");
    card.className = "twin-run";
    card.dataset.id = run.id;
    const title = document.createElement("h4");
    title.textContent = `${run.scenario} · ${run.profile} · ${run.state}${run.error ? `: ${run.error}` : ""}`;
    card.append(title);
    if (run.state === "done" && run.files.includes("latency.png")) {
      const key = `${run.id}/latency.png`;
      if (!state.twinImages.has(key)) {
        state.twinImages.set(key, await blobUrl(`/v1/twin-runs/${run.id}/files/latency.png`));
      }
      const img = document.createElement("img");
      img.src = state.twinImages.get(key);
      img.alt = `latency per class, ${run.profile}`;
      card.append(img);
    }
    list.append(card);
  }
  const done = runs.filter((r) => r.state === "done" && r.summary);
  drawComparison(done);
  await drawTwinSeries(state, done);
}

/** A twin run's ``timeseries.csv`` as columns of numbers (its cells are all numbers). */
export function parseSeries(text) {
  const [head, ...rows] = text.trim().split(/\r?\n/);
  const names = head.split(",");
  const columns = Object.fromEntries(names.map((name) => [name, []]));
  for (const row of rows) {
    row.split(",").forEach((cell, i) => columns[names[i]].push(Number(cell)));
  }
  return columns;
}

// What the twin's buckets are compared by: one chart each, a line per run.
const TWIN_FIGURES = [
  ["twinSla", (c) => slaPercent(c.sla_met, c.completed.map((n, i) => n - c.sla_met[i])), 100, "%"],
  ["twinArrivals", (c) => c.arrivals, null, ""],
  ["twinRejected", (c) => c.rejected, null, ""],
  ["twinQueued", (c) => c.queued, null, ""],
];

/** The finished runs' time series (fetched once per run) over simulated time. */
async function drawTwinSeries(state, runs) {
  state.twinSeries = state.twinSeries || new Map();
  const withSeries = runs.filter((run) => run.files.includes("timeseries.csv"));
  for (const run of withSeries) {
    if (!state.twinSeries.has(run.id)) {
      const text = await getText(`/v1/twin-runs/${run.id}/files/timeseries.csv`);
      state.twinSeries.set(run.id, parseSeries(text));
    }
  }
  const box = $("#twin-series");
  box.replaceChildren();
  if (!withSeries.length) return;
  const head = document.createElement("h4");
  head.textContent = t("twinSeries");
  box.append(head);
  // Runs may differ in length: each line is drawn over the longest run's buckets.
  const longest = withSeries.map((r) => state.twinSeries.get(r.id).t_s).reduce((a, b) => (b.length > a.length ? b : a));
  const xLabel = t("simSeconds", { s: Math.round(longest[longest.length - 1] || 0) });
  for (const [key, value, max, unit] of TWIN_FIGURES) {
    const lines = withSeries.map((run) => ({
      name: `${run.profile} (${run.scenario})`,
      values: value(state.twinSeries.get(run.id)),
    }));
    box.append(lineChart(t(key), longest, lines, { max, unit, xLabel }));
  }
}

// Figures compared across the finished runs: one small bar chart each.
const FIGURES = [
  ["SLA %", (s) => 100 * s.tasks.sla_ratio],
  ["rejected", (s) => s.tasks.rejected],
  ["cost", (s) => s.cost],
  ["carbon kg", (s) => s.carbon_kg],
  ["energy kWh", (s) => s.energy_kwh],
];

function drawComparison(runs) {
  const box = $("#twin-compare");
  box.replaceChildren();
  if (!runs.length) return;
  const width = 180;
  const rowH = 16;
  for (const [name, value] of FIGURES) {
    const values = runs.map((r) => value(r.summary));
    const top = Math.max(...values, 1e-12);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "compare");
    svg.setAttribute("viewBox", `0 0 ${width + 150} ${rowH * runs.length + 18}`);
    const caption = document.createElementNS(SVG, "text");
    caption.setAttribute("x", 0);
    caption.setAttribute("y", 12);
    caption.textContent = name;
    svg.append(caption);
    runs.forEach((run, i) => {
      const y = 18 + i * rowH;
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", 0);
      label.setAttribute("y", y + 11);
      label.textContent = `${run.profile} (${run.scenario})`;
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", 140);
      rect.setAttribute("y", y + 2);
      rect.setAttribute("height", rowH - 4);
      rect.setAttribute("width", Math.max(1, (width - 40) * (values[i] / top)));
      const figure = document.createElementNS(SVG, "text");
      figure.setAttribute("x", 144 + (width - 40) * (values[i] / top));
      figure.setAttribute("y", y + 11);
      figure.textContent = values[i].toFixed(values[i] >= 100 ? 0 : 3);
      svg.append(label, rect, figure);
    });
    box.append(svg);
  }
}
