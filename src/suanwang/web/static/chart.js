// Small SVG line charts: one per figure, a line per series, gaps where a value is missing.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 360;
const HEIGHT = 120;
const LEFT = 34; // room for the axis figures
const TOP = 16; // room for the title
const BOTTOM = 14;
// Colour-blind-safe (Okabe-Ito), distinct in light and dark themes.
export const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442"];

function node(name, attributes = {}, text = "") {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text) element.textContent = text;
  return element;
}

function figure(value) {
  if (value >= 100) return value.toFixed(0);
  return Number(value.toPrecision(2)).toString();
}

const KEY_CHARS = 22; // a longer series name is cut in the key (whole in its hover text)

/** A line chart: ``lines`` are {name, values, dash?}, parallel to ``xs`` (null: no value).
 * The y axis runs from 0 to ``max``, else to the highest value (at most ``ceiling``); x from
 * the first to the last of ``xs``. */
export function lineChart(title, xs, lines, { max = null, ceiling = Infinity, unit = "", xLabel = "" } = {}) {
  const svg = node("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT + 14 * Math.ceil(lines.length / 3)}` });
  svg.dataset.title = title;
  svg.append(node("text", { x: 0, y: 11, class: "chart-title" }, title));
  const values = lines.flatMap((l) => l.values).filter((v) => v !== null && Number.isFinite(v));
  const highest = values.reduce((a, b) => Math.max(a, b), 0);
  const top = max ?? Math.min(ceiling, highest > 0 ? highest : 1); // all zero: a 0..1 axis
  const x0 = xs.length ? xs[0] : 0;
  const span = xs.length > 1 ? xs[xs.length - 1] - x0 : 1;
  const plotW = WIDTH - LEFT - 4;
  const plotH = HEIGHT - TOP - BOTTOM;
  const px = (x) => LEFT + (plotW * (x - x0)) / span;
  const py = (y) => TOP + plotH * (1 - Math.min(y, top) / top);
  svg.append(
    node("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: TOP + plotH, class: "axis" }),
    node("line", { x1: LEFT, y1: TOP + plotH, x2: WIDTH - 4, y2: TOP + plotH, class: "axis" }),
    node("text", { x: LEFT - 3, y: TOP + 4, class: "tick", "text-anchor": "end" }, `${figure(top)}${unit}`),
    node("text", { x: LEFT - 3, y: TOP + plotH, class: "tick", "text-anchor": "end" }, `0${unit}`),
  );
  if (xLabel) svg.append(node("text", { x: WIDTH - 4, y: HEIGHT, class: "tick", "text-anchor": "end" }, xLabel));
  lines.forEach((line, i) => {
    const colour = line.colour || COLOURS[i % COLOURS.length];
    // A run of defined values is one polyline; a missing value ends it.
    let points = [];
    const flush = () => {
      if (points.length === 1) points.push(points[0]); // a lone sample: a dot-wide line
      if (points.length) {
        const poly = node("polyline", { points: points.join(" "), stroke: colour, class: "line" });
        if (line.dash) poly.setAttribute("stroke-dasharray", "4 3");
        poly.dataset.series = line.name;
        svg.append(poly);
      }
      points = [];
    };
    line.values.forEach((v, k) => {
      if (v === null || !Number.isFinite(v)) flush();
      else points.push(`${px(xs[k]).toFixed(1)},${py(v).toFixed(1)}`);
    });
    flush();
    const row = Math.floor(i / 3);
    const x = (i % 3) * (WIDTH / 3);
    const y = HEIGHT + 10 + 14 * row;
    svg.append(node("rect", { x, y: y - 8, width: 10, height: 8, fill: colour }));
    const name = line.name.length > KEY_CHARS ? `${line.name.slice(0, KEY_CHARS - 1)}…` : line.name;
    const key = node("text", { x: x + 13, y, class: "key" }, name);
    key.append(node("title", {}, line.name));
    svg.append(key);
  });
  return svg;
}
