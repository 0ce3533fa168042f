// The network map: sites placed by longitude and latitude (or on rings by tier when a
// scenario gives no positions), links coloured by reserved bandwidth, sites by their most
// constrained resource (load.js). Drawn by hand in SVG: a few thousand elements render well
// under a second, with no library.

import { loadColour, siteSummary } from "./load.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const HEIGHT = 640;
const MARGIN = 40;
export const TIERS = ["hub", "region", "edge", "onsite", "terminal"];
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

/** Screen positions of the sites: an equirectangular projection fitted to the box. */
function placeSites(sites) {
  const pos = new Map();
  const geo = sites.filter((s) => s.lat_deg !== null && s.lon_deg !== null);
  if (geo.length) {
    const lats = geo.map((s) => s.lat_deg);
    const lons = geo.map((s) => s.lon_deg);
    const [lat0, lat1] = [Math.min(...lats), Math.max(...lats)];
    const [lon0, lon1] = [Math.min(...lons), Math.max(...lons)];
    // Shrink longitude by cos(latitude) so that distances look right away from the equator.
    const k = Math.cos((((lat0 + lat1) / 2) * Math.PI) / 180);
    const spanX = Math.max((lon1 - lon0) * k, 1e-6);
    const spanY = Math.max(lat1 - lat0, 1e-6);
    const scale = Math.min((WIDTH - 2 * MARGIN) / spanX, (HEIGHT - 2 * MARGIN) / spanY);
    const offX = (WIDTH - spanX * scale) / 2;
    const offY = (HEIGHT - spanY * scale) / 2;
    for (const s of geo) {
      pos.set(s.id, [offX + (s.lon_deg - lon0) * k * scale, HEIGHT - offY - (s.lat_deg - lat0) * scale]);
    }
  }
  // Sites without a position: one ring per tier around the centre, hubs innermost.
  const rest = sites.filter((s) => !pos.has(s.id));
  TIERS.forEach((tier, ring) => {
    const onRing = rest.filter((s) => s.tier === tier);
    onRing.forEach((s, i) => {
      const angle = (2 * Math.PI * i) / onRing.length + ring * 0.3;
      const r = (Math.min(WIDTH, HEIGHT) / 2 - MARGIN) * ((ring + 1) / TIERS.length);
      pos.set(s.id, [WIDTH / 2 + r * Math.cos(angle), HEIGHT / 2 + r * Math.sin(angle)]);
    });
  });
  return pos;
}

/** Network elements (routers) have no position: put each at the mean of its neighbours. */
function placeElements(pos, links) {
  for (let round = 0; round < 3; round++) {
    const sums = new Map();
    for (const link of links) {
      for (const [from, to] of [[link.a, link.b], [link.b, link.a]]) {
        if (pos.has(from) && !pos.has(to)) {
          const [x, y, n] = sums.get(to) || [0, 0, 0];
          const [px, py] = pos.get(from);
          sums.set(to, [x + px, y + py, n + 1]);
        }
      }
    }
    if (!sums.size) break;
    for (const [id, [x, y, n]] of sums) pos.set(id, [x / n, y / n]);
  }
}

export class NetworkMap {
  constructor(svg, onSelectSite) {
    this.svg = svg;
    this.linksLayer = svg.querySelector("#map-links");
    this.sitesLayer = svg.querySelector("#map-sites");
    this.labelsLayer = svg.querySelector("#map-labels");
    this.onSelectSite = onSelectSite;
    this.linkEls = new Map();
    this.siteEls = new Map();
    this.sites = new Map();
    this.marks = []; // [shape, x, y]: shapes are drawn about the origin and moved into place
    this.zoom = 1;
    this.enableZoom();
  }

  /** Wheel zooms about the pointer, dragging pans, a double click shows everything again. */
  enableZoom() {
    const svg = this.svg;
    const full = { x: 0, y: 0, w: WIDTH, h: HEIGHT };
    let view = { ...full };
    const apply = () => {
      svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
      this.scaleMarks(view.w / full.w);
    };
    // Pointer position in map units: the rendered box is scaled to the view box.
    const toMap = (event) => {
      const box = svg.getBoundingClientRect();
      const scale = Math.max(view.w / box.width, view.h / box.height);
      return [view.x + (event.clientX - box.left) * scale, view.y + (event.clientY - box.top) * scale, scale];
    };
    svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const [mx, my] = toMap(event);
      // Proportional to the wheel distance: a touchpad glides, a mouse wheel steps.
      const factor = Math.exp(Math.max(-1, Math.min(1, event.deltaY * 0.0015)));
      const w = Math.min(full.w, Math.max(full.w / 40, view.w * factor));
      const k = w / view.w;
      view = { x: mx - (mx - view.x) * k, y: my - (my - view.y) * k, w, h: view.h * k };
      apply();
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, view: { ...view }, scale: toMap(event)[2] };
    });
    svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      view = {
        ...drag.view,
        x: drag.view.x - (event.clientX - drag.x) * drag.scale,
        y: drag.view.y - (event.clientY - drag.y) * drag.scale,
      };
      apply();
    });
    for (const name of ["pointerup", "pointerleave"]) svg.addEventListener(name, () => (drag = null));
    svg.addEventListener("dblclick", () => {
      view = { ...full };
      apply();
    });
  }

  /** Keep marks and labels the same size on screen at zoom ``k`` (1: everything shown), so
   * that zooming in separates crowded sites instead of enlarging them. */
  scaleMarks(k) {
    this.zoom = k;
    for (const [shape, x, y] of this.marks) {
      shape.setAttribute("transform", `translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${k})`);
    }
  }

  /** Redraw everything for a topology (on login and when the live scenario changes). */
  draw(sites, links, elementIds) {
    this.linksLayer.replaceChildren();
    this.sitesLayer.replaceChildren();
    this.labelsLayer.replaceChildren();
    this.linkEls.clear();
    this.siteEls.clear();
    this.sites = new Map(sites.map((site) => [site.id, site]));
    this.marks = [];
    const pos = placeSites(sites);
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
    const big = sites.length <= 60;
    for (const site of sites) {
      const [x, y] = pos.get(site.id);
      const r = RADIUS[site.tier] || 4;
      // Tier by shape and colour: hubs squares, regions diamonds, the rest circles.
      const shape = site.tier === "hub"
        ? el("rect", { x: -r, y: -r, width: 2 * r, height: 2 * r })
        : site.tier === "region"
          ? el("polygon", { points: `0,${-r} ${r},0 0,${r} ${-r},0` })
          : el("circle", { cx: 0, cy: 0, r });
      this.marks.push([shape, x, y]);
      shape.setAttribute("class", `site tier-${site.tier}`);
      shape.setAttribute("data-id", site.id);
      shape.setAttribute("data-tier", site.tier);
      titled(shape, siteSummary(site, null));
      shape.style.fill = loadColour(0);
      shape.addEventListener("click", () => this.onSelectSite(site.id));
      this.siteEls.set(site.id, shape);
      siteFrag.append(shape);
      if (big && site.tier !== "terminal") {
        const label = el("text", { x: r + 2, y: 3, class: "label" });
        label.textContent = site.name;
        this.marks.push([label, x, y]);
        this.labelsLayer.append(label);
      }
    }
    this.sitesLayer.append(siteFrag);
    this.scaleMarks(this.zoom);
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
      shape.style.fill = loadColour(l ? l.share : 0);
      shape.dataset.load = l ? l.share.toFixed(3) : "";
      shape.dataset.binding = l ? l.binding : "";
      shape.querySelector("title").textContent = siteSummary(this.sites.get(id), l);
    }
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
