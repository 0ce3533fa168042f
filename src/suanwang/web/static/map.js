// The network map: sites placed by longitude and latitude (or on rings by tier when a
// scenario gives no positions) over the province outlines the server ships, links coloured by
// reserved bandwidth, sites by their most constrained resource (load.js). Zoom is semantic:
// at every zoom level co-located sites merge into counted clusters (clusters.js) and labels
// are placed anew so that none overlaps another (labels.js). Drawn by hand in SVG: a few
// thousand elements render well under a second, with no library.

import { get } from "./api.js";
import { t } from "./i18n.js";
import { MAJOR, clusterSites, spreadMarks } from "./clusters.js";
import { placeLabels } from "./labels.js";
import { loadColour, siteSummary } from "./load.js";
import { HEIGHT, TIERS, WIDTH, placeElements, placeSites, shortName } from "./projection.js";

const SVG = "http://www.w3.org/2000/svg";
export { TIERS };
// Size per tier: the hubs stand out, the many terminals recede.
const RADIUS = { hub: 11, region: 8, edge: 6, onsite: 4.5, terminal: 3 };

function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

/** A hover text: SVG's own <title> child, which needs no script to show. */
function titled(node, text) {
  const title = el("title", {});
  title.textContent = text;
  node.append(title);
  return node;
}

/** A label's glyph box at zoom 1, measured once it can be (the map must be shown). */
function measure(text) {
  const box = text.getBBox();
  return box.width > 0 ? { x: box.x, y: box.y, w: box.width, h: box.height } : null;
}

export class NetworkMap {
  constructor(svg, onSelectSite) {
    this.svg = svg;
    this.outlinesLayer = svg.querySelector("#map-outlines");
    this.linksLayer = svg.querySelector("#map-links");
    this.sitesLayer = svg.querySelector("#map-sites");
    this.labelsLayer = svg.querySelector("#map-labels");
    this.onSelectSite = onSelectSite;
    this.linkEls = new Map();
    this.siteEls = new Map();
    this.sites = new Map();
    this.placed = new Map(); // site id -> {id, tier, x, y, r, shape}: where the site lies
    this.labels = new Map(); // site id -> {text, box}: its label and glyph box at zoom 1
    this.shares = new Map(); // site id -> load share, from the last paintLoad
    this.loads = new Map(); // site id -> its siteLoads entry, from the last paintLoad
    this.quarantined = new Map(); // site id -> how many of its nodes are quarantined
    this.marks = []; // [shape, x, y]: routers, drawn about the origin and moved into place
    this.full = { x: 0, y: 0, w: WIDTH, h: HEIGHT };
    this.view = { ...this.full };
    this.zoom = 1;
    this.layouts = 0;
    this.pending = false;
    this.outlines = null; // the promise of /v1/geo/outlines, fetched once
    this.enableZoom();
  }

  /** Show ``view`` (map units): marks keep their size on screen, clusters and labels follow. */
  setView(view) {
    this.view = view;
    this.svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
    this.zoom = view.w / this.full.w;
    for (const [shape, x, y] of this.marks) {
      shape.setAttribute("transform", `translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${this.zoom})`);
    }
    // Once per frame however many wheel events come.
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.layout();
    });
  }

  /** Show a box of the map (a cluster's sites) with some room around it. */
  zoomTo(x0, y0, x1, y1) {
    const ratio = WIDTH / HEIGHT;
    let w = Math.max((x1 - x0) * 2.2, (y1 - y0) * 2.2 * ratio, this.full.w / 40);
    w = Math.min(w, this.view.w / 2.5); // always in: a click on a cluster must split it
    const h = w / ratio;
    this.setView({ x: (x0 + x1) / 2 - w / 2, y: (y0 + y1) / 2 - h / 2, w, h });
  }

  /** Wheel zooms about the pointer, dragging pans, a double click shows everything again. */
  enableZoom() {
    const svg = this.svg;
    // Pointer position in map units: the rendered box is scaled to the view box.
    const toMap = (event) => {
      const box = svg.getBoundingClientRect();
      const v = this.view;
      const scale = Math.max(v.w / box.width, v.h / box.height);
      return [v.x + (event.clientX - box.left) * scale, v.y + (event.clientY - box.top) * scale, scale];
    };
    svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const [mx, my] = toMap(event);
      const v = this.view;
      // Proportional to the wheel distance: a touchpad glides, a mouse wheel steps.
      const factor = Math.exp(Math.max(-1, Math.min(1, event.deltaY * 0.0015)));
      const w = Math.min(this.full.w, Math.max(this.full.w / 40, v.w * factor));
      const k = w / v.w;
      this.setView({ x: mx - (mx - v.x) * k, y: my - (my - v.y) * k, w, h: v.h * k });
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, view: { ...this.view }, scale: toMap(event)[2] };
    });
    svg.addEventListener("pointermove", (event) => {
      if (!drag || (event.clientX === drag.x && event.clientY === drag.y)) return;
      this.setView({
        ...drag.view,
        x: drag.view.x - (event.clientX - drag.x) * drag.scale,
        y: drag.view.y - (event.clientY - drag.y) * drag.scale,
      });
    });
    for (const name of ["pointerup", "pointerleave"]) svg.addEventListener(name, () => (drag = null));
    svg.addEventListener("dblclick", () => this.setView({ ...this.full }));
  }

  /** Redraw everything for a topology (on login and when the live scenario changes). */
  draw(sites, links, elementIds) {
    for (const layer of [this.linksLayer, this.sitesLayer, this.labelsLayer]) layer.replaceChildren();
    this.linkEls.clear();
    this.siteEls.clear();
    this.placed.clear();
    this.labels.clear();
    this.sites = new Map(sites.map((site) => [site.id, site]));
    this.marks = [];
    const { pos, project } = placeSites(sites);
    placeElements(pos, links);
    const linkFrag = document.createDocumentFragment();
    for (const link of links) {
      const a = pos.get(link.a) || [WIDTH / 2, HEIGHT / 2];
      const b = pos.get(link.b) || [WIDTH / 2, HEIGHT / 2];
      const line = el("line", {
        x1: a[0].toFixed(1), y1: a[1].toFixed(1), x2: b[0].toFixed(1), y2: b[1].toFixed(1),
        class: "link", "data-id": link.id, stroke: loadColour(0),
      });
      titled(line, `${link.id}: ${link.bandwidth_mbps} Mbps, ${link.latency_ms} ms`);
      if (link.state === "down") line.classList.add("down");
      this.linkEls.set(link.id, line);
      linkFrag.append(line);
    }
    this.linksLayer.append(linkFrag);
    const siteFrag = document.createDocumentFragment();
    // Routers first and small, so that sites are drawn over them.
    for (const id of elementIds(pos)) {
      const [x, y] = pos.get(id);
      const mark = el("rect", { x: -2, y: -2, width: 4, height: 4, class: "element", "data-id": id });
      this.marks.push([mark, x, y]);
      siteFrag.append(titled(mark, id));
    }
    // Small sites, then the clusters, then regions and hubs on top: a hub's mark is never
    // under another.
    const order = [...sites].sort((a, b) => TIERS.indexOf(b.tier) - TIERS.indexOf(a.tier));
    this.clustersLayer = el("g", { class: "clusters" });
    for (const site of order) {
      if (MAJOR.has(site.tier) && !this.clustersLayer.parentNode) siteFrag.append(this.clustersLayer);
      const [x, y] = pos.get(site.id);
      const r = RADIUS[site.tier] || 4;
      // Tier by shape and colour: hubs squares, regions diamonds, the rest circles.
      const shape = site.tier === "hub"
        ? el("rect", { x: -r, y: -r, width: 2 * r, height: 2 * r })
        : site.tier === "region"
          ? el("polygon", { points: `0,${-r} ${r},0 0,${r} ${-r},0` })
          : el("circle", { cx: 0, cy: 0, r });
      shape.setAttribute("class", `site tier-${site.tier}`);
      shape.setAttribute("data-id", site.id);
      shape.setAttribute("data-tier", site.tier);
      titled(shape, siteSummary(site, null));
      shape.style.fill = loadColour(0);
      shape.addEventListener("click", () => this.onSelectSite(site.id));
      this.siteEls.set(site.id, shape);
      this.placed.set(site.id, { id: site.id, tier: site.tier, x, y, r, shape });
      siteFrag.append(shape);
    }
    if (!this.clustersLayer.parentNode) siteFrag.append(this.clustersLayer);
    this.sitesLayer.append(siteFrag);
    this.setView({ ...this.full });
    this.layout();
    this.drawOutlines(project);
  }

  /** Province outlines under everything, when the sites have positions. */
  async drawOutlines(project) {
    this.outlinesLayer.replaceChildren();
    delete this.svg.dataset.outlines;
    if (!project) return;
    this.outlines ??= get("/v1/geo/outlines").catch(() => null);
    const geo = await this.outlines;
    if (!geo) return;
    const frag = document.createDocumentFragment();
    for (const feature of geo.features) {
      const parts = [];
      for (const polygon of feature.geometry.coordinates) {
        for (const ring of polygon) {
          parts.push("M" + ring.map(([lon, lat]) => project(lon, lat).map((v) => v.toFixed(1)).join(" ")).join("L") + "Z");
        }
      }
      const path = el("path", { d: parts.join(""), class: "outline" });
      frag.append(titled(path, feature.properties.name));
    }
    this.outlinesLayer.append(frag);
    this.svg.dataset.outlines = String(geo.features.length);
  }

  /** Clusters, marks spread apart, and labels for the current zoom. */
  layout() {
    const k = this.zoom;
    const move = (shape, x, y) =>
      shape.setAttribute("transform", `translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${k})`);
    const items = [...this.placed.values()];
    const { singles, clusters } = clusterSites(items, k);
    this.clustersLayer.replaceChildren();
    // What is drawn, where: {id, tier, major, x, y, r, shape, home}.
    const marks = items
      .filter((s) => MAJOR.has(s.tier))
      .map((s) => ({ ...s, major: true }))
      .concat(singles.map((s) => ({ ...s, major: false })));
    for (const s of marks) s.shape.style.display = "";
    for (const c of clusters) {
      for (const s of c.members) s.shape.style.display = "none";
      const r = 6 + Math.min(6, 1.5 * Math.log2(c.members.length));
      const ids = c.members.map((s) => s.id).join(" ");
      const shape = el("g", { class: "cluster", "data-count": c.members.length, "data-members": ids });
      shape.append(el("circle", { r }), el("text", { y: 3 }), el("title", {}));
      shape.querySelector("text").textContent = String(c.members.length);
      shape.addEventListener("click", () => {
        const xs = c.members.map((s) => s.x);
        const ys = c.members.map((s) => s.y);
        this.zoomTo(Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys));
      });
      marks.push({ id: ids, tier: "cluster", major: false, x: c.x, y: c.y, r, shape });
    }
    const at = spreadMarks(marks, k);
    const leaders = [];
    for (const m of marks) {
      const [x, y] = at.get(m.id);
      if (Math.hypot(x - m.x, y - m.y) > 1.5 * k) {
        leaders.push(el("line", { x1: m.x, y1: m.y, x2: x, y2: y, class: "leader" }));
      }
      [m.x, m.y] = [x, y];
      move(m.shape, x, y);
    }
    this.clustersLayer.append(...leaders, ...marks.filter((m) => m.tier === "cluster").map((m) => m.shape));
    this.paintClusters();
    this.placeLabels(marks.filter((m) => m.tier !== "cluster"), marks, k, move);
    this.svg.dataset.clusters = String(clusters.length);
    this.svg.dataset.layoutWidth = this.view.w.toFixed(3); // the view this layout is for
    this.svg.dataset.layout = String(++this.layouts);
  }

  placeLabels(shown, obstacles, k, move) {
    const v = this.view;
    const inView = (s) => s.x >= v.x && s.x <= v.x + v.w && s.y >= v.y && s.y <= v.y + v.h;
    const wanted = shown.filter((s) => s.tier !== "terminal" && inView(s));
    wanted.sort((a, b) => TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier));
    const items = [];
    for (const s of wanted) {
      let label = this.labels.get(s.id);
      if (!label) {
        const text = el("text", { class: `label tier-${s.tier}`, "data-for": s.id });
        text.textContent = shortName(this.sites.get(s.id));
        this.labelsLayer.append(text);
        label = { text, box: null };
        this.labels.set(s.id, label);
      }
      label.box ??= measure(label.text);
      if (label.box) items.push({ ...s, w: label.box.w, h: label.box.h });
    }
    const kept = new Map(placeLabels(items, obstacles, k).map((p) => [p.id, p]));
    for (const [id, { text, box }] of this.labels) {
      const p = kept.get(id);
      text.style.display = p ? "" : "none";
      if (!p) continue;
      const s = shown.find((item) => item.id === id);
      text.setAttribute("x", (p.left - box.x).toFixed(2));
      text.setAttribute("y", (p.top - box.y).toFixed(2));
      move(text, s.x, s.y);
    }
    this.svg.dataset.labels = String(kept.size);
  }

  /** A cluster is as loaded as its most loaded site; its hover text lists the sites. */
  paintClusters() {
    for (const mark of this.clustersLayer.querySelectorAll(".cluster")) {
      const ids = mark.dataset.members.split(" ");
      const share = Math.max(...ids.map((id) => this.shares.get(id) || 0));
      mark.querySelector("circle").style.fill = loadColour(share);
      mark.classList.toggle("quarantine", ids.some((id) => this.quarantined.has(id)));
      const names = ids.slice(0, 12).map((id) => {
        const s = this.shares.get(id);
        return `${this.sites.get(id).name}${s === undefined ? "" : ` ${Math.round(s * 100)} %`}`;
      });
      if (ids.length > 12) names.push(`and ${ids.length - 12} more`);
      mark.querySelector("title").textContent =
        `${ids.length} sites (click to zoom in), most loaded ${Math.round(share * 100)} %:\n${names.join("\n")}`;
    }
  }

  /** Colour links by reserved share and sites by their most constrained resource
   * (``siteLoads`` of load.js); a site's hover text says which resource that is and how many
   * devices of each kind are free. */
  paintLoad(load, sites) {
    load.link_ids.forEach((id, i) => {
      const line = this.linkEls.get(id);
      if (line) {
        line.setAttribute("stroke", loadColour(load.link_utilisation[i]));
        line.dataset.utilisation = load.link_utilisation[i];
      }
    });
    for (const [id, shape] of this.siteEls) {
      const l = sites.get(id);
      this.shares.set(id, l ? l.share : 0);
      shape.style.fill = loadColour(l ? l.share : 0);
      shape.dataset.load = l ? l.share.toFixed(3) : "";
      shape.dataset.binding = l ? l.binding : "";
      shape.querySelector("title").textContent = this.siteTitle(id, l);
    }
    this.loads = sites;
    this.paintClusters();
  }

  /** Ring the sites that hold quarantined nodes (``counts``: site id -> how many), and the
   * clusters holding such a site; their hover texts say how many. */
  markQuarantined(counts) {
    this.quarantined = counts;
    for (const [id, shape] of this.siteEls) {
      shape.classList.toggle("quarantine", counts.has(id));
      shape.dataset.quarantined = String(counts.get(id) || 0);
      shape.querySelector("title").textContent = this.siteTitle(id, this.loads.get(id));
    }
    this.paintClusters();
  }

  siteTitle(id, load) {
    const text = siteSummary(this.sites.get(id), load || null);
    const n = this.quarantined.get(id);
    return n ? `${text}\n${t("quarantinedAt", { n })}` : text;
  }

  /** Highlight a placement: its links, its ingress and its node's site; null clears. */
  highlight(placement, ingress, nodeSite) {
    for (const line of this.linkEls.values()) line.classList.remove("path");
    for (const shape of this.siteEls.values()) shape.classList.remove("path-end");
    if (!placement) return;
    for (const id of placement.segments) {
      const line = this.linkEls.get(id);
      if (!line) continue;
      line.classList.add("path");
      this.linksLayer.append(line); // last drawn is on top: the path is never hidden
    }
    for (const id of [ingress, nodeSite]) if (id) this.siteEls.get(id)?.classList.add("path-end");
  }
}
