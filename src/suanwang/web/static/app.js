// The portal: log in with a token, then the map, tasks, the submit form, nodes and twin runs,
// refreshed by polling (every POLL_MS) without reloading the page.

import { ApiError, get, post, saveToken, savedToken, call } from "./api.js";
import { explanationPanel } from "./explain.js";
import { NetworkMap } from "./map.js";
import { showNodes, showTwin, startTwin, twinSetup } from "./views.js";

const POLL_MS = 2000;
// States whose detail shows an explanation: a final task other than a refusal has none.
const EXPLAINED = ["pending", "rejected", "scheduled", "running"];
const $ = (selector) => document.querySelector(selector);

const state = {
  who: null,
  scenario: "",
  sites: [],
  nodes: [],
  links: [],
  siteOfNode: new Map(),
  load: null,
  tasks: [],
  selected: null, // id of the task shown in detail
  selectedState: null, // its state when shown: a change redraws the detail
  timer: null,
};

const map = new NetworkMap($("#map"), (siteId) => {
  $("#node-site").value = siteId;
  openTab("nodes");
  showNodes(state);
});

function text(value) {
  return value === null || value === undefined ? "" : String(value);
}

function row(cells, id) {
  const tr = document.createElement("tr");
  if (id) tr.dataset.id = id;
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = text(cell);
    tr.append(td);
  }
  return tr;
}

function openTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
}

// ---- login -------------------------------------------------------------------------------

async function login(token) {
  $("#login-error").textContent = "";
  try {
    const who = await call("GET", "/v1/whoami", undefined, token);
    saveToken(token);
    state.who = who;
  } catch (error) {
    // A refused token leaves nothing behind: no data was fetched with it.
    saveToken(null);
    showLoggedOut();
    $("#login-error").textContent =
      error instanceof ApiError && error.status === 401
        ? `Token refused: ${error.message}`
        : `Cannot log in: ${error.message}`;
    return;
  }
  $("#login").hidden = true;
  $("#portal").hidden = false;
  $("#logout").hidden = false;
  $("#whoami").hidden = false;
  $("#whoami").textContent = `${state.who.id} · tenant ${state.who.tenant} · ${state.who.roles.join(", ")}`;
  try {
    await loadTopology();
    await twinSetup(state);
  } catch (error) {
    $("#map-info").textContent = `Could not load the network: ${error.message}`;
  }
  await refresh();
  // Polling rather than a stream: one timer, no connection to keep alive through proxies.
  state.timer = setInterval(refresh, POLL_MS);
}

function showLoggedOut() {
  clearInterval(state.timer);
  state.timer = null;
  $("#portal").hidden = true;
  $("#logout").hidden = true;
  $("#whoami").hidden = true;
  $("#login").hidden = false;
}

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  login($("#token").value.trim());
});

$("#logout").addEventListener("click", () => {
  saveToken(null);
  state.who = null;
  showLoggedOut();
});

// ---- topology and live load ----------------------------------------------------------------

async function loadTopology() {
  const [health, sites, nodes, links] = await Promise.all([
    get("/health"),
    get("/v1/sites?limit=100000"),
    get("/v1/nodes?limit=100000"),
    get("/v1/links?limit=100000"),
  ]);
  Object.assign(state, { scenario: health.scenario, sites, nodes, links });
  state.siteOfNode = new Map(nodes.map((n) => [n.id, n.site_id]));
  const siteIds = new Set(sites.map((s) => s.id));
  map.draw(sites, links, (pos) => [...pos.keys()].filter((id) => !siteIds.has(id)));
  state.selected = null; // a new topology: the old placement's path means nothing on it
  $("#task-detail").replaceChildren();
  $("#scenario-name").textContent = health.scenario;
  $("#map-stats").textContent = `${sites.length} sites · ${nodes.length} nodes · ${links.length} links`;
  fillSiteSelects();
  const ids = document.createElement("datalist");
  ids.id = "node-ids";
  ids.append(...nodes.slice(0, 5000).map((n) => new Option(n.id)));
  document.getElementById("node-ids")?.remove();
  document.body.append(ids);
  // Ready once the browser has painted the map: a frame, then the task after it.
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
  document.body.dataset.readyMs = performance.now().toFixed(1);
  document.body.dataset.ready = "map";
}

function fillSiteSelects() {
  const ingress = $("#ingress");
  const nodeSite = $("#node-site");
  ingress.replaceChildren();
  nodeSite.replaceChildren(new Option("all sites", ""));
  // Users attach at terminals, so those come first; the first one is the default ingress.
  const rank = (s) => (s.tier === "terminal" ? 0 : 1);
  for (const site of state.sites.slice().sort((a, b) => rank(a) - rank(b))) {
    ingress.append(new Option(`${site.name} (${site.tier})`, site.id));
  }
  ingress.append(new Option("none", ""));
  for (const site of state.sites) nodeSite.append(new Option(`${site.name} (${site.tier})`, site.id));
}

async function refresh() {
  // A slow answer must not pile up polls behind it: skip a tick while one is in flight.
  if (state.refreshing) return;
  state.refreshing = true;
  try {
    const health = await get("/health");
    if (health.scenario !== state.scenario) await loadTopology();
    const [load] = await Promise.all([get("/v1/load"), refreshTasks()]);
    state.load = load;
    map.paintLoad(load, state.siteOfNode);
    if (!$("#tab-nodes").hidden) showNodes(state);
    await showTwin(state);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      // Revoked while open: back to the login form.
      saveToken(null);
      showLoggedOut();
      $("#login-error").textContent = `Token refused: ${error.message}`;
    }
  } finally {
    state.refreshing = false;
  }
}

// ---- tasks -------------------------------------------------------------------------------

async function refreshTasks() {
  const params = new URLSearchParams({ limit: "500" });
  const stateFilter = $("#filter-state").value;
  const typeFilter = $("#filter-type").value.trim();
  if (stateFilter) params.set("state", stateFilter);
  if (typeFilter) params.set("task_type", typeFilter);
  const page = await get(`/v1/tasks?${params}`);
  // Newest first: what a user just submitted is on top.
  state.tasks = page.items.slice().reverse();
  const body = $("#tasks tbody");
  body.replaceChildren(
    ...state.tasks.map((t) => {
      const tr = row(
        [t.id.slice(0, 8), t.spec.task_type || "-", t.state, t.placement?.node_id || "-"],
        t.id,
      );
      tr.classList.add(`state-${t.state}`);
      if (t.id === state.selected) tr.classList.add("selected");
      tr.addEventListener("click", () => selectTask(t.id));
      return tr;
    }),
  );
  // The selected task moved on (placed, finished, re-placed): show where it is now.
  const shown = state.tasks.find((t) => t.id === state.selected);
  if (shown && state.selectedState && shown.state !== state.selectedState) await selectTask(shown.id);
}

for (const id of ["#filter-state", "#filter-type"]) {
  $(id).addEventListener("change", () => refreshTasks());
}
$("#task-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  refreshTasks();
});

async function selectTask(id) {
  // A later selection (a click, or the poll seeing the state change) supersedes this one:
  // each await below checks its ticket, so two answers never interleave in the detail.
  const ticket = (state.ticket = (state.ticket || 0) + 1);
  state.selected = id;
  state.selectedState = null;
  for (const tr of document.querySelectorAll("#tasks tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.id === id);
  }
  const task = await get(`/v1/tasks/${id}`);
  if (ticket !== state.ticket) return;
  state.selectedState = task.state;
  const detail = $("#task-detail");
  detail.replaceChildren();
  const add = (tag, content, cls) => {
    const node = document.createElement(tag);
    node.textContent = content;
    if (cls) node.className = cls;
    detail.append(node);
    return node;
  };
  add("h3", `Task ${task.id}`);
  add("p", `${task.state}: ${task.reason}`, `state-${task.state}`);
  const placement = task.placement;
  if (placement) {
    const e = placement.estimate;
    add("p", `node ${placement.node_id} · path ${placement.path.join(" → ")}`, "placement");
    add(
      "p",
      `network ${e.network_ms.toFixed(2)} ms · queueing ${e.queueing_ms.toFixed(2)} ms · ` +
        `compute ${e.compute_ms.toFixed(2)} ms · ` +
        (e.fixed_ms ? `fixed ${e.fixed_ms.toFixed(2)} ms · ` : "") +
        `cost ${e.cost.toFixed(4)} · ` +
        `carbon ${e.carbon_g.toFixed(2)} g`,
    );
  }
  map.highlight(placement, task.spec.ingress_site, placement && state.siteOfNode.get(placement.node_id));
  if (EXPLAINED.includes(task.state)) {
    // Why here, or why not: the scheduler's diagnosis on the live state now (a placed task's
    // own hold left out).
    const why = await get(`/v1/tasks/${id}/explain`);
    if (ticket !== state.ticket) return;
    detail.append(explanationPanel(why, id));
  }
}

// ---- submit ------------------------------------------------------------------------------

const NUMBERS = ["work_gflop", "cpu_cores", "mem_gib", "data_in_mb", "latency_budget_ms"];

$("#submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = {};
  for (const [key, raw] of form.entries()) {
    const value = String(raw).trim();
    if (!value) continue; // left empty: the server's default or the catalogue type's value
    if (key === "accelerator") body.accelerator = { kind: value, count: 1 };
    else body[key] = NUMBERS.includes(key) ? Number(value) : value;
  }
  const out = $("#submit-result");
  out.className = "";
  try {
    const task = await post("/v1/tasks", body);
    out.textContent = `Task ${task.id}: ${task.state} — ${task.reason}`;
    openTab("tasks");
    await refreshTasks();
    await selectTask(task.id);
  } catch (error) {
    out.className = "error";
    out.textContent = `Refused: ${error.message}`;
  }
});

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    openTab(button.dataset.tab);
    if (button.dataset.tab === "nodes") showNodes(state);
  });
}
$("#node-site").addEventListener("change", () => showNodes(state));
$("#twin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  startTwin(state, new FormData(event.target));
});

if (savedToken()) login(savedToken());
