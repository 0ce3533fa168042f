// The task list, newest first and paged by the server, with a search and a count; and the
// detail of the task chosen (placement, path on the map, explanation).

import { get, getIfChanged } from "./api.js";
import { keyRow, replaceRows } from "./access.js";
import { explanationPanel } from "./explain.js";
import { t } from "./i18n.js";

const PAGE = 50;
// States whose detail shows an explanation: a final task other than a refusal has none.
const EXPLAINED = ["pending", "rejected", "scheduled", "running"];
// Task ids are 32 hex digits: a search of hex digits is an id prefix, anything else a type.
const ID_PREFIX = /^[0-9a-f]{1,32}$/i;
const $ = (selector) => document.querySelector(selector);

function text(value) {
  return value === null || value === undefined ? "" : String(value);
}

/** Seconds since the epoch as ISO 8601 in UTC, to the second. */
export function isoTime(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 19) + "Z";
}

export class TaskList {
  constructor(state, map) {
    this.state = state;
    this.map = map;
    this.cursors = [null]; // the cursor of each page shown so far; [0], the newest, has none
    this.page = 0;
    this.next = null; // the cursor of the page after this one, null on the last
    this.listTicket = 0;
    this.ticket = 0;
    const restart = () => this.first();
    $("#filter-state").addEventListener("change", restart);
    let typing = null;
    $("#task-search").addEventListener("input", () => {
      // Searched once typing pauses, not on every key.
      clearTimeout(typing);
      typing = setTimeout(restart, 300);
    });
    $("#task-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(typing);
      restart();
    });
    $("#tasks-newer").addEventListener("click", () => this.turn(-1));
    $("#tasks-older").addEventListener("click", () => this.turn(1));
  }

  /** Back to the newest page (filters changed, or a task was just submitted). */
  first() {
    this.cursors = [null];
    this.page = 0;
    return this.refresh();
  }

  turn(step) {
    if (step > 0 && !this.next) return;
    if (step > 0) this.cursors[this.page + 1] = this.next;
    this.page = Math.max(0, this.page + step);
    // The next page's cursor comes with this page: no turn until it is read (refresh enables).
    $("#tasks-newer").disabled = true;
    $("#tasks-older").disabled = true;
    return this.refresh();
  }

  query() {
    const params = new URLSearchParams({ limit: String(PAGE), order: "newest", include_total: "true" });
    const stateFilter = $("#filter-state").value;
    const search = $("#task-search").value.trim();
    if (stateFilter) params.set("state", stateFilter);
    if (ID_PREFIX.test(search)) params.set("id_prefix", search.toLowerCase());
    else if (search) params.set("task_type", search);
    const cursor = this.cursors[this.page];
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  /** The page shown, read again (each poll): a cursor keeps older pages where they are. */
  async refresh() {
    const ticket = ++this.listTicket;
    const page = await getIfChanged(`/v1/tasks?${this.query()}`);
    if (ticket !== this.listTicket) return; // a later query (new filter, turned page) won
    this.next = page.next_cursor;
    const tasks = page.items;
    this.state.tasks = tasks;
    const body = $("#tasks tbody");
    replaceRows(body, tasks.map((task) => this.row(task)));
    this.total = page.total;
    this.showCount();
    $("#tasks-newer").disabled = this.page === 0;
    $("#tasks-older").disabled = !this.next;
    // The selected task moved on (placed, finished, re-placed): show where it is now.
    const shown = tasks.find((t) => t.id === this.state.selected);
    if (shown && this.state.selectedState && shown.state !== this.state.selectedState) {
      await this.select(shown.id);
    }
  }

  /** How many tasks there are and which of them are shown, in the language chosen. */
  showCount() {
    if (this.total === undefined) return;
    const n = this.state.tasks.length;
    const total = this.total;
    const from = this.page * PAGE + 1;
    const to = this.page * PAGE + n;
    $("#task-count").textContent = !total
      ? t("noTasks")
      : !n
        ? t("noneOnPage", { total })
        : this.page === 0
          ? t("showing", { n, total })
          : t("showingRange", { from, to, total });
  }

  row(t) {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    const cells = [t.id.slice(0, 8), t.spec.task_type || "-", t.state, t.placement?.node_id || "-"];
    for (const cell of [...cells, isoTime(t.submitted_at_s)]) {
      const td = document.createElement("td");
      td.textContent = text(cell);
      tr.append(td);
    }
    tr.title = t.id;
    tr.classList.add(`state-${t.state}`);
    if (t.id === this.state.selected) tr.classList.add("selected");
    keyRow(tr, () => this.select(t.id));
    return tr;
  }

  clearSelection() {
    this.state.selected = null;
    $("#task-detail").replaceChildren();
  }

  async select(id) {
    // A later selection (a click, or the poll seeing the state change) supersedes this one:
    // each await below checks its ticket, so two answers never interleave in the detail.
    const ticket = ++this.ticket;
    const state = this.state;
    state.selected = id;
    state.selectedState = null;
    for (const tr of document.querySelectorAll("#tasks tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.id === id);
    }
    const task = await get(`/v1/tasks/${id}`);
    if (ticket !== this.ticket) return;
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
    add("h3", t("task", { id: task.id }));
    add("p", `${task.state}: ${task.reason}`, `state-${task.state}`);
    add("p", `submitted ${isoTime(task.submitted_at_s)}`, "submitted");
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
    const nodeSite = placement && state.siteOfNode.get(placement.node_id);
    this.map.highlight(placement, task.spec.ingress_site, nodeSite);
    if (EXPLAINED.includes(task.state)) {
      // Why here, or why not: the scheduler's diagnosis on the live state now (a placed
      // task's own hold left out).
      const why = await get(`/v1/tasks/${id}/explain`);
      if (ticket !== this.ticket) return;
      detail.append(explanationPanel(why, id));
    }
  }
}
