// Label placement: greedy over candidate positions around each mark, the highest tier first,
// so that no two labels overlap. Hubs and regions are always labelled (they try positions
// ever further out, and may cover a mark as a last resort); lower tiers are dropped when no
// nearby position is free. Boxes are in screen units (see clusters.js) about each mark.

const DIRECTIONS = [
  [1, 0], [-1, 0], [0, -1], [0, 1], [1, -1], [-1, -1], [1, 1], [-1, 1],
];
const MAJOR_RINGS = [0, 6, 12, 20, 30, 42, 56];
const MINOR_RINGS = [0, 5];
const GAP = 2;

/** The box (screen units, about the mark) of a label ``w`` x ``h`` placed in direction
 * [dx, dy] at ``extra`` beyond a mark of radius ``r``. */
function candidate(r, w, h, [dx, dy], extra) {
  const reach = r + GAP + extra;
  const left = dx > 0 ? reach * (dy ? 0.7 : 1) : dx < 0 ? -reach * (dy ? 0.7 : 1) - w : -w / 2;
  const top = dy > 0 ? reach * (dx ? 0.7 : 1) : dy < 0 ? -reach * (dx ? 0.7 : 1) - h : -h / 2;
  return { left, top, w, h };
}

function overlaps(a, b) {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** Place labels. ``items``: [{id, major, x, y, r, w, h}] (x, y in map units; r, w, h in
 * screen units), in priority order; ``obstacles``: [{id, x, y, r}] marks a label should not cover;
 * ``k``: the zoom. Returns [{id, left, top}] (screen units about the mark) for the labels
 * kept. */
export function placeLabels(items, obstacles, k) {
  const placed = []; // boxes in map units
  const blocks = obstacles.map((o) => ({
    id: o.id, x0: o.x - o.r * k, x1: o.x + o.r * k, y0: o.y - o.r * k, y1: o.y + o.r * k,
  }));
  const out = [];
  for (const item of items) {
    const rings = item.major ? MAJOR_RINGS : MINOR_RINGS;
    // Majors may cover a mark rather than go unlabelled; never another label.
    const passes = item.major ? [true, false] : [true];
    let chosen = null;
    for (const avoidMarks of passes) {
      for (const extra of rings) {
        for (const dir of DIRECTIONS) {
          const c = candidate(item.r, item.w, item.h, dir, extra);
          const box = {
            x0: item.x + (c.left - 1) * k, x1: item.x + (c.left + c.w + 1) * k,
            y0: item.y + (c.top - 1) * k, y1: item.y + (c.top + c.h + 1) * k,
          };
          if (placed.some((p) => overlaps(p, box))) continue;
          if (avoidMarks && blocks.some((b) => b.id !== item.id && overlaps(b, box))) continue;
          chosen = { c, box };
          break;
        }
        if (chosen) break;
      }
      if (chosen) break;
    }
    if (!chosen) continue;
    placed.push(chosen.box);
    out.push({ id: item.id, left: chosen.c.left, top: chosen.c.top });
  }
  return out;
}
