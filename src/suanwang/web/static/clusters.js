// Co-located sites on the map, recomputed for every zoom level. Distances are in "screen
// units": map units divided by the zoom, so that a threshold means the same on screen at
// every zoom (marks keep their size on screen while the map grows under them).

// Hubs and regions are few and each matters: they are never merged into a cluster. Marks that
// touch are pushed apart (a leader line joins a moved mark to its place): every mark can be
// clicked.
export const MAJOR = new Set(["hub", "region"]);
// Smaller sites closer than this on screen are drawn as one mark with their count.
export const CLUSTER_PX = 12;
const TIER_RANK = { hub: 0, region: 1, edge: 2, onsite: 3, terminal: 4 };
const SPREAD_ROUNDS = 60;

/** Greedy clustering of the non-major sites: the highest-tier unassigned site seeds a
 * cluster and takes in every unassigned site within ``CLUSTER_PX`` of it.
 * ``items``: [{id, tier, x, y}] in map units; ``k``: zoom (map units per screen unit).
 * Returns {singles: [item], clusters: [{x, y, members: [item]}]}. */
export function clusterSites(items, k) {
  const minor = items.filter((s) => !MAJOR.has(s.tier));
  minor.sort((a, b) => TIER_RANK[a.tier] - TIER_RANK[b.tier] || (a.id < b.id ? -1 : 1));
  const limit = CLUSTER_PX * k;
  const taken = new Set();
  const singles = [];
  const clusters = [];
  for (const seed of minor) {
    if (taken.has(seed.id)) continue;
    const members = minor.filter(
      (s) => !taken.has(s.id) && Math.hypot(s.x - seed.x, s.y - seed.y) <= limit,
    );
    for (const s of members) taken.add(s.id);
    if (members.length === 1) {
      singles.push(seed);
      continue;
    }
    const x = members.reduce((sum, s) => sum + s.x, 0) / members.length;
    const y = members.reduce((sum, s) => sum + s.y, 0) / members.length;
    clusters.push({ x, y, members });
  }
  return { singles, clusters };
}

/** Positions for the marks such that no two overlap on screen: pairs too close are pushed
 * apart along the line between them, a bounded number of rounds. A hub or region gives way
 * only to another: a smaller site or a cluster moves off it alone.
 * ``items``: [{id, x, y, r, major}] (r in screen units). Returns a Map id -> [x, y]. */
export function spreadMarks(items, k) {
  const at = new Map(items.map((s) => [s.id, [s.x, s.y]]));
  for (let round = 0; round < SPREAD_ROUNDS; round++) {
    let moved = false;
    for (let i = 0; i < items.length; i++) {
      for (let j = i + 1; j < items.length; j++) {
        const a = at.get(items[i].id);
        const b = at.get(items[j].id);
        const need = (items[i].r + items[j].r + 3) * k;
        let dx = b[0] - a[0];
        let dy = b[1] - a[1];
        if (Math.abs(dx) >= need || Math.abs(dy) >= need) continue;
        let d = Math.hypot(dx, dy);
        if (d >= need) continue;
        if (d < 1e-9) [dx, dy, d] = [0, 1, 1]; // one on the other: part them north-south
        const push = need - d + 0.01 * k;
        // Shares of the push: a major does not move for a minor one.
        const [wa, wb] = items[i].major === items[j].major ? [0.5, 0.5] : items[i].major ? [0, 1] : [1, 0];
        a[0] -= (dx / d) * push * wa;
        a[1] -= (dy / d) * push * wa;
        b[0] += (dx / d) * push * wb;
        b[1] += (dy / d) * push * wb;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return at;
}
