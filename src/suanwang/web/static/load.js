// Load per node and per site from /v1/load and /v1/nodes, and the colour scale it is drawn in.
//
// A site is as loaded as its most constrained resource: the highest of its reserved CPU
// cores, its reserved memory, its reserved devices of each accelerator kind and its share of
// full nodes. A mean of CPU loads hides a hub whose GPUs are all taken, or whose few big
// nodes are full while hundreds of small ones idle.

// A node is full when one of its resources is (all but rounding): it takes no more work of
// that kind.
export const FULL = 0.99;

// Viridis (matplotlib's), sampled at nine stops: ordered in lightness, so that it reads the
// same to the colour-blind and in grey; dark is free, yellow is full.
const VIRIDIS = [
  [68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140],
  [40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37],
];

/** The scale's colour for a share 0..1 (0 free, 1 full), as the browser writes it back. */
export function loadColour(share) {
  const s = Math.max(0, Math.min(1, Number(share) || 0)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(s), VIRIDIS.length - 2);
  const t = s - i;
  const [r, g, b] = VIRIDIS[i].map((c, k) => Math.round(c + t * (VIRIDIS[i + 1][k] - c)));
  return `rgb(${r}, ${g}, ${b})`;
}

/** Devices per kind of a node: its groups summed (a node may hold two models of one kind). */
export function devices(node) {
  const total = {};
  for (const a of node.accelerators) total[a.kind] = (total[a.kind] || 0) + a.count;
  return total;
}

/** Each node's shares and devices as /v1/load gives them now, by node id. */
export function nodeLoads(load, nodes) {
  const out = new Map();
  if (!load) return out;
  const index = new Map(load.node_ids.map((id, i) => [id, i]));
  const reserved = load.accelerators_reserved || {};
  for (const node of nodes) {
    const i = index.get(node.id);
    const total = devices(node);
    const accel = {};
    let top = 0;
    const cpu = i === undefined ? 0 : load.cpu_utilisation[i];
    const mem = i === undefined ? 0 : load.mem_utilisation[i];
    for (const [kind, count] of Object.entries(total)) {
      const used = i === undefined ? 0 : reserved[kind]?.[i] || 0;
      accel[kind] = { used, total: count };
      top = Math.max(top, count ? used / count : 0);
    }
    const share = Math.max(cpu, mem, top);
    out.set(node.id, { cpu, mem, accel, share, full: share >= FULL });
  }
  return out;
}

/** Per site: each resource's share, the most constrained one, and free devices per kind. */
export function siteLoads(perNode, nodes) {
  const sums = new Map();
  for (const node of nodes) {
    const l = perNode.get(node.id);
    if (!l) continue;
    const s = sums.get(node.site_id) || { cores: 0, cpu: 0, gib: 0, mem: 0, n: 0, full: 0, accel: {} };
    // Weighted by capacity: a 128-core node counts for more than a 4-core one.
    s.cores += node.cpu_cores;
    s.cpu += l.cpu * node.cpu_cores;
    s.gib += node.mem_gib;
    s.mem += l.mem * node.mem_gib;
    s.n += 1;
    s.full += l.full ? 1 : 0;
    for (const [kind, { used, total }] of Object.entries(l.accel)) {
      const a = (s.accel[kind] ||= { used: 0, total: 0 });
      a.used += used;
      a.total += total;
    }
    sums.set(node.site_id, s);
  }
  const out = new Map();
  for (const [site, s] of sums) {
    const shares = [
      ["cpu", s.cores ? s.cpu / s.cores : 0],
      ["memory", s.gib ? s.mem / s.gib : 0],
      ...Object.entries(s.accel).map(([kind, a]) => [kind, a.total ? a.used / a.total : 0]),
      ["full nodes", s.full / s.n],
    ];
    const [binding, share] = shares.reduce((best, next) => (next[1] > best[1] ? next : best));
    out.set(site, { share, binding, shares: Object.fromEntries(shares), accel: s.accel, nodes: s.n, full: s.full });
  }
  return out;
}

const pct = (share) => `${(100 * share).toFixed(0)}%`;

/** "gpu 3/8 free · npu 0/2 free": free / total devices per kind, or "" without any. */
export function freeDevices(accel) {
  return Object.entries(accel)
    .map(([kind, a]) => `${kind} ${a.total - a.used}/${a.total} free`)
    .join(" · ");
}

/** A site's hover text: what binds it, every resource's share, free devices, full nodes. */
export function siteSummary(site, load) {
  const head = `${site.name} (${site.tier}, ${site.nodes} nodes)`;
  if (!load) return head;
  const lines = [
    head,
    `most constrained: ${load.binding} ${pct(load.share)}`,
    `cpu ${pct(load.shares.cpu)} · memory ${pct(load.shares.memory)}`,
  ];
  const free = freeDevices(load.accel);
  if (free) lines.push(free);
  lines.push(`${load.full} of ${load.nodes} nodes full`);
  return lines.join("\n");
}
