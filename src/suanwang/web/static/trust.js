// Earned trust in the portal: a node's detail shows its declared trust level, its earned
// trust (unverified, attested, quarantined), the fp64 rate it claims against the rate its
// last attestation measured, and, when quarantined, a badge with the reason. Quarantined
// nodes are marked in the nodes table and their sites on the map; which nodes are quarantined
// is asked on every poll (a short list), since the topology itself is read only at login.

import { ApiError, get } from "./api.js";
import { t } from "./i18n.js";

// TrustLevel of the model, by its number.
const DECLARED = ["untrusted", "basic", "verified", "sovereign"];
// The detail on show, redrawn from what was fetched when the language changes.
let shown = null;

/** A badge for earned trust: ``attested`` or ``quarantined`` (with its reason as hover
 * text when known); null for ``unverified``. */
export function trustBadge(trust, reason = "") {
  if (trust !== "attested" && trust !== "quarantined") return null;
  const badge = document.createElement("span");
  badge.className = `badge ${trust}`;
  badge.textContent = t(trust);
  if (reason) badge.title = reason;
  return badge;
}

/** Mark a nodes-table row whose node is quarantined: a badge in its state cell. */
export function markRow(tr, stateCell, node) {
  const quarantined = node.state === "quarantined" || node.attestation === "quarantined";
  tr.classList.toggle("quarantined", quarantined);
  if (!quarantined) return;
  stateCell.replaceChildren(trustBadge("quarantined"));
}

/** The trust of ``node`` in ``box``: fresh from the server (staff also read the reason and
 * the attestations' count from /trust; others get the node's own figures). */
export async function showTrust(box, node) {
  box.replaceChildren();
  box.className = "trust";
  const id = encodeURIComponent(node.id);
  let fresh = node;
  let standing = null;
  try {
    fresh = await get(`/v1/nodes/${id}`);
    standing = await get(`/v1/nodes/${id}/trust`);
  } catch (error) {
    // Only staff read the reason (403); anything else is said where the figures would be.
    if (!(error instanceof ApiError && error.status === 403)) {
      box.textContent = t("trustNotShown", { why: error.message });
      return;
    }
  }
  shown = { box, node: fresh, standing };
  drawTrust(box, fresh, standing);
}

function drawTrust(box, node, standing) {
  box.replaceChildren();
  const trust = standing ? standing.trust : node.attestation;
  const claimed = standing ? standing.claimed_gflops : node.claimed_gflops;
  const measured = standing ? standing.measured_gflops : node.measured_gflops;
  box.dataset.trust = trust;
  const level = document.createElement("p");
  const declared = DECLARED[node.trust_level] ?? String(node.trust_level);
  level.append(
    t("trustDeclared", { level: node.trust_level, name: declared }),
    " · ",
    t("trustEarned"),
    " ",
  );
  level.append(trustBadge(trust) || t(trust));
  if (standing && trust !== "quarantined") level.append(` (${t("trustConsistent", { n: standing.consistent })})`);
  box.append(level);
  if (trust === "quarantined") {
    const alert = document.createElement("p");
    alert.className = "quarantine-reason";
    alert.setAttribute("role", "alert");
    alert.append(trustBadge("quarantined"), " ");
    alert.append(standing ? t("quarantineReason", { why: standing.reason }) : t("quarantineStaff"));
    box.append(alert);
  }
  const table = document.createElement("table");
  table.className = "trust-figures";
  const rows = [
    ["claimed", t("claimedGflops"), claimed.toFixed(2)],
    ["measured", t("measuredGflops"), measured === null ? t("notMeasured") : measured.toFixed(2)],
  ];
  if (measured !== null && claimed > 0) {
    // Two decimals, unless that would read 0.00 for a rate far under the claim.
    const ratio = measured / claimed;
    rows.push(["ratio", t("measuredRatio"), ratio >= 0.01 ? ratio.toFixed(2) : ratio.toPrecision(2)]);
  }
  for (const [name, label, value] of rows) {
    const tr = document.createElement("tr");
    tr.dataset.figure = name;
    for (const text of [label, value]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    table.append(tr);
  }
  box.append(table);
}

document.addEventListener("langchange", () => {
  if (shown && shown.box.isConnected) drawTrust(shown.box, shown.node, shown.standing);
});

/** Which nodes are quarantined now; nodes that entered or left quarantine since the last call
 * are updated in ``state.nodes``. Resolves to true when anything changed. */
export async function refreshQuarantine(state) {
  const now = await get("/v1/nodes?state=quarantined&limit=100000");
  const before = state.quarantined || new Set();
  const after = new Set(now.map((n) => n.id));
  const left = [...before].filter((id) => !after.has(id));
  const entered = now.filter((n) => !before.has(n.id));
  if (!left.length && !entered.length) return false;
  // Released nodes are read again for their state now (up, down...): a handful at most.
  const updated = [...entered, ...(await Promise.all(left.map((id) => get(`/v1/nodes/${encodeURIComponent(id)}`))))];
  const byId = new Map(updated.map((n) => [n.id, n]));
  state.nodes = state.nodes.map((n) => byId.get(n.id) || n);
  state.quarantined = after;
  return true;
}

/** Quarantined nodes per site, for the map. */
export function quarantinedBySite(state) {
  const counts = new Map();
  for (const n of state.nodes) {
    if (n.state === "quarantined") counts.set(n.site_id, (counts.get(n.site_id) || 0) + 1);
  }
  return counts;
}
