// The explanation panel of a selected task (`/v1/tasks/{id}/explain`): why here (points per
// score plugin, the runners-up with their estimates) for a placeable task, why not (rejections
// by plugin and shortfall, the closest nodes first) for every node turned away, and a form to
// ask about one node. All text goes in through textContent: node ids and reasons are data.

import { get } from "./api.js";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A table with a caption, a header row and one row per entry of `rows` (arrays of cells). */
function table(id, caption, headers, rows) {
  const out = element("table");
  out.id = id;
  out.append(element("caption", caption));
  const head = element("tr");
  for (const h of headers) head.append(element("th", h));
  out.append(element("thead"), element("tbody"));
  out.tHead.append(head);
  for (const row of rows) {
    const tr = element("tr");
    for (const cell of row) tr.append(cell instanceof Node ? cell : element("td", cell));
    out.tBodies[0].append(tr);
  }
  return out;
}

/** A cell with a bar as long as `points` out of 100, then the figure. */
function pointsCell(points) {
  const td = element("td");
  const meter = element("span", undefined, "bar points");
  meter.style.width = `${Math.max(0, Math.min(100, points)) * 0.6}px`;
  td.append(meter, ` ${points.toFixed(1)}`);
  return td;
}

const figure = (value) => (Math.abs(value) >= 0.01 || value === 0 ? value.toFixed(2) : value.toPrecision(3));

function whyHere(here) {
  const chosen = here.chosen;
  const section = element("div", undefined, "why-here");
  const kept = here.kept ? " — kept there by session affinity or hysteresis" : "";
  section.append(
    element(
      "p",
      `Why here: ${chosen.node_id} scores ${chosen.score.toFixed(1)} of ${here.score_max} points ` +
        `among ${here.candidates} candidates${kept}.`,
      "headline",
    ),
  );
  const rows = chosen.scores.map((p) => [
    p.plugin,
    figure(p.raw),
    pointsCell(p.scaled),
    String(p.weight),
    p.weighted.toFixed(1),
  ]);
  rows.push(["total", "", "", "", chosen.score.toFixed(1)]);
  const points = table("why-here", "Points per score plugin", ["plugin", "raw", "points", "weight", "weighted"], rows);
  points.tBodies[0].lastChild.className = "total";
  const ranked = [chosen, ...here.alternatives].map((c, rank) => {
    const e = c.estimate;
    return [
      rank === 0 ? `${c.node_id} (chosen)` : c.node_id,
      c.score.toFixed(1),
      e.network_ms.toFixed(2),
      e.queueing_ms.toFixed(2),
      e.compute_ms.toFixed(2),
      figure(e.cost),
    ];
  });
  const alternatives = table(
    "alternatives",
    "Chosen and runners-up (times in ms)",
    ["node", "score", "network", "queueing", "compute", "cost"],
    ranked,
  );
  section.append(points, alternatives);
  return section;
}

function shortBy(miss) {
  if (miss.never) return "never";
  if (miss.short_by === null) return "—";
  return `${miss.short_by.toPrecision(3)}${miss.unit ? ` ${miss.unit}` : ""}`;
}

/** One header row per group (plugin, what fell short, how many), then its closest nodes. */
function refusals(groups) {
  const out = table("refusals", "Turned away, closest first", ["node", "short by", "reason"], []);
  const body = out.tBodies[0];
  for (const g of groups) {
    const head = element("tr", undefined, "group");
    const label = element("td", `${g.plugin}${g.kind ? ` — ${g.kind}` : ""}: ${g.count} nodes`);
    label.colSpan = 3;
    head.append(label);
    body.append(head);
    for (const miss of g.closest) {
      const tr = element("tr");
      tr.append(element("td", miss.node_id), element("td", shortBy(miss)), element("td", miss.reason, "reason"));
      body.append(tr);
    }
  }
  return out;
}

/** The panel for one explanation `why` of task `taskId`. */
export function explanationPanel(why, taskId) {
  const box = element("div", undefined, why.placeable ? "explanation placeable" : "explanation");
  box.id = "explanation";
  let head;
  if (!why.placeable) head = `Why not: ${why.refusal || why.summary}`;
  else if (why.placed_on && why.placed_on !== why.node_id)
    head = `Placed on ${why.placed_on}; placed anew now it would go to ${why.node_id}.`;
  else if (why.placed_on) head = `Placed on ${why.placed_on}, where it would go now too.`;
  else head = `Placeable now on ${why.node_id}.`;
  box.append(element("p", head, "headline"));
  if (why.summary && !head.includes(why.summary)) box.append(element("p", why.summary));
  if (why.why_here) box.append(whyHere(why.why_here));
  if (why.refusals.length) box.append(refusals(why.refusals));
  if (why.verdicts.length) {
    const all = element("details");
    all.append(element("summary", `The ${why.verdicts.length} closest nodes turned away`));
    const list = element("ul");
    for (const v of why.verdicts) list.append(element("li", `${v.node_id}: ${v.plugin} — ${v.reason}`));
    all.append(list);
    box.append(all);
  }
  box.append(whyNotForm(taskId));
  return box;
}

/** "Why not node X?": the verdict of one node the user names. */
function whyNotForm(taskId) {
  const form = element("form", undefined, "row");
  form.id = "why-not";
  const input = element("input");
  Object.assign(input, { name: "node", placeholder: "node id", required: true });
  input.setAttribute("list", "node-ids");
  const button = element("button", "Why not this node?");
  button.type = "submit";
  const answer = element("span", undefined, "verdict");
  form.append(input, button, answer);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const node = encodeURIComponent(input.value.trim());
      const why = await get(`/v1/tasks/${taskId}/explain?node_id=${node}`);
      const v = why.why_not;
      answer.textContent = !v ? "no verdict" : v.plugin ? `${v.plugin}: ${v.reason}` : "it passed every filter";
    } catch (error) {
      answer.textContent = error.message;
    }
  });
  return form;
}
