// Where sites and routers lie on the map: an equirectangular projection of their positions
// (rings by tier for sites without one), routers at the mean of their neighbours.

export const WIDTH = 1000;
export const HEIGHT = 640;
const MARGIN = 40;
export const TIERS = ["hub", "region", "edge", "onsite", "terminal"];

/** A label short enough for a national map: the name without its parenthesis or "cluster",
 * or the id's place part when that is still long. */
export function shortName(site) {
  const name = site.name.replace(/\s*\(.*\)\s*$/, "").replace(/\s+cluster$/i, "");
  if (name.length <= 18 || !site.id.includes("-")) return name;
  const place = site.id.slice(site.id.indexOf("-") + 1);
  return place.charAt(0).toUpperCase() + place.slice(1);
}

/** Screen positions of the sites: an equirectangular projection fitted to the box. Returns
 * the positions and the projection (null when no site has a position). */
export function placeSites(sites) {
  const pos = new Map();
  let project = null;
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
    project = (lon, lat) => [offX + (lon - lon0) * k * scale, HEIGHT - offY - (lat - lat0) * scale];
    for (const s of geo) pos.set(s.id, project(s.lon_deg, s.lat_deg));
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
  return { pos, project };
}

/** Network elements (routers) have no position: put each at the mean of its neighbours. */
export function placeElements(pos, links) {
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
