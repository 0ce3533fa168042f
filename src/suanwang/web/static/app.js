// The portal: log in with a token, then the map, tasks, the submit form, nodes and twin runs,
// refreshed by polling (every POLL_MS) without reloading the page.

import { fillSiteList, initSwitches, initTablist, selectTab } from "./access.js";
import { t } from "./i18n.js";
import { ApiError, get, getIfChanged, saveToken, savedToken, call } from "./api.js";
import { Liveness, unanswered } from "./liveness.js";
import { loadColour, nodeLoads, siteLoads } from "./load.js";
import { NetworkMap } from "./map.js";
import { MarketPanel } from "./market.js";
import { SeriesPanel } from "./series.js";
import { initSubmit } from "./submit.js";
import { TaskList } from "./tasks.js";
import { quarantinedBySite, refreshQuarantine } from "./trust.js";
import { showNodes, showTwin, startTwin, twinSetup } from "./views.js";

const POLL_MS = 2000;
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
initSwitches();
initTablist();
const liveness = new Liveness($("#offline"), $("#portal"));

function openSite(siteId) {
  $("#node-site").value = siteId;
  openTab("nodes");
  showNodes(state);
}
const map = new NetworkMap($("#map"), openSite);
const tasks = new TaskList(state, map);
const series = new SeriesPanel($("#series-charts"));
const market = new MarketPanel();
// The legend's scale in the very colours the map uses.
for (const swatch of document.querySelectorAll("#scale .swatch")) {
  swatch.style.background = loadColour(Number(swatch.dataset.share));
}

function openTab(name) {
  selectTab(name);
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
        ? t("tokenRefused", { why: error.message })
        : t("cannotLogIn", { why: error.message });
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
    $("#map-info").textContent = t("noNetwork", { why: error.message });
  }
  await refresh();
  // Polling rather than a stream: one timer, no connection to keep alive through proxies.
  clearInterval(state.timer);
  state.timer = setInterval(refresh, POLL_MS);
}

function showLoggedOut() {
  clearInterval(state.timer);
  state.timer = null;
  state.load = null;
  series.reset();
  liveness.reset();
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
  state.quarantined = new Set(nodes.filter((n) => n.state === "quarantined").map((n) => n.id));
  const siteIds = new Set(sites.map((s) => s.id));
  map.draw(sites, links, (pos) => [...pos.keys()].filter((id) => !siteIds.has(id)));
  map.markQuarantined(quarantinedBySite(state));
  tasks.clearSelection(); // a new topology: the old placement's path means nothing on it
  $("#scenario-name").textContent = health.scenario;
  showStats();
  fillSiteList(sites, openSite);
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

function showStats() {
  const counts = { sites: state.sites.length, nodes: state.nodes.length, links: state.links.length };
  $("#map-stats").textContent = t("mapStats", counts);
}

function fillSiteSelects() {
  const ingress = $("#ingress");
  const nodeSite = $("#node-site");
  ingress.replaceChildren();
  nodeSite.replaceChildren(new Option(t("allSites"), ""));
  // Users attach at terminals, so those come first; the first one is the default ingress.
  const rank = (s) => (s.tier === "terminal" ? 0 : 1);
  for (const site of state.sites.slice().sort((a, b) => rank(a) - rank(b))) {
    ingress.append(new Option(`${site.name} (${site.tier})`, site.id));
  }
  ingress.append(new Option(t("none"), ""));
  for (const site of state.sites) nodeSite.append(new Option(`${site.name} (${site.tier})`, site.id));
  nodeSite.options[0].dataset.i18n = "allSites";
  ingress.options[ingress.options.length - 1].dataset.i18n = "none";
}

async function refresh() {
  liveness.check();
  // A slow answer must not pile up polls behind it: skip a tick while one is in flight.
  if (state.refreshing) return;
  state.refreshing = true;
  liveness.sent();
  try {
    const health = await get("/health");
    if (health.scenario !== state.scenario) await loadTopology();
    // The load comes back as the object held when the server says it has not changed.
    const [load, , requarantined] = await Promise.all([
      getIfChanged("/v1/load"),
      tasks.refresh(),
      refreshQuarantine(state),
    ]);
    if (requarantined) map.markQuarantined(quarantinedBySite(state));
    if (load !== state.load || requarantined) {
      state.load = load;
      map.paintLoad(load, siteLoads(nodeLoads(load, state.nodes), state.nodes));
      if (!$("#tab-nodes").hidden) showNodes(state);
    }
    if (!$("#tab-series").hidden) await series.refresh();
    if (!$("#tab-market").hidden) await market.refresh();
    await showTwin(state);
    liveness.answered();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      // Revoked while open: back to the login form.
      saveToken(null);
      showLoggedOut();
      $("#login-error").textContent = t("tokenRefused", { why: error.message });
    } else if (unanswered(error)) {
      liveness.failed();
    } else {
      liveness.answered(); // refused, but answering: what it refused says nothing of its health
    }
  } finally {
    state.refreshing = false;
  }
}

// ---- submit ------------------------------------------------------------------------------

initSubmit($("#submit-form"), $("#submit-result"), async (task) => {
  openTab("tasks");
  await tasks.first();
  await tasks.select(task.id);
});

for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => {
    openTab(button.dataset.tab);
    if (button.dataset.tab === "nodes") showNodes(state);
    if (button.dataset.tab === "series") series.refresh().catch(() => {}); // the poll retries
    if (button.dataset.tab === "market") market.refresh().catch(() => {}); // the poll retries
  });
}
// Texts that scripts wrote: drawn again in the language just chosen.
document.addEventListener("langchange", () => {
  if (state.who) showStats();
  tasks.showCount();
  series.draw();
  liveness.redraw();
});
$("#node-site").addEventListener("change", () => showNodes(state));
$("#twin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  startTwin(state, new FormData(event.target));
});

if (savedToken()) login(savedToken());
