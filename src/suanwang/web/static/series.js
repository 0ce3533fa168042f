// The "Time series" tab: the server's samples (GET /v1/series) drawn as line charts, fetched
// incrementally: each poll asks only for the samples after the last one held.

import { get } from "./api.js";
import { lineChart } from "./chart.js";
import { t } from "./i18n.js";

const $ = (selector) => document.querySelector(selector);
const TIERS = ["hub", "region", "edge", "onsite"];
const SITES = 6; // the busiest sites drawn
const RESELECT_POLLS = 15; // every 15th poll (30 s) asks afresh which sites are busiest

/** SLA % of each interval: met over met and missed; null where nothing completed. */
export function slaPercent(met, missed) {
  return met.map((m, i) => {
    const total = (m || 0) + (missed[i] || 0);
    return total ? (100 * (m || 0)) / total : null;
  });
}

export class SeriesPanel {
  constructor(box) {
    this.box = box;
    this.reset();
  }

  reset() {
    this.held = { next: 0, capacity: 0, periodS: 0, atS: [], columns: {}, sites: {} };
    this.polls = 0;
  }

  /** Fetch what is new and draw it again; a full read now and then picks the busiest sites. */
  async refresh() {
    const held = this.held;
    const fresh = this.polls % RESELECT_POLLS === 0;
    this.polls += 1;
    const params = new URLSearchParams();
    const since = fresh ? 0 : held.next;
    params.set("since", String(since));
    if (fresh) params.set("top", String(SITES));
    else if (Object.keys(held.sites).length) params.set("sites", Object.keys(held.sites).join(","));
    const doc = await get(`/v1/series?${params}`);
    this.merge(doc, since, fresh);
    this.draw();
  }

  merge(doc, since, fresh) {
    const held = this.held;
    Object.assign(held, { next: doc.next, capacity: doc.capacity, periodS: doc.period_s });
    if (fresh || doc.from_index !== since) {
      // Afresh (or samples were dropped, or the server restarted): replace what is held.
      Object.assign(held, { atS: doc.at_s, columns: doc.columns, sites: doc.sites });
      return;
    }
    const keep = (list, more) => list.concat(more).slice(-held.capacity);
    held.atS = keep(held.atS, doc.at_s);
    for (const [name, values] of Object.entries(doc.columns)) {
      held.columns[name] = keep(held.columns[name] || [], values);
    }
    for (const site of Object.keys(held.sites)) {
      // A site the server no longer has (a new topology) goes; the others grow.
      if (site in doc.sites) held.sites[site] = keep(held.sites[site], doc.sites[site]);
      else delete held.sites[site];
    }
  }

  draw() {
    const { atS, columns, sites } = this.held;
    const box = this.box;
    box.replaceChildren();
    $("#series-info").textContent = atS.length
      ? t("seriesInfo", { n: atS.length, period: this.held.periodS })
      : t("seriesEmpty");
    if (!atS.length) return;
    const xs = atS.map((s) => s - atS[atS.length - 1]); // seconds before the latest sample
    const ago = t("secondsAgo", { s: Math.round(-xs[0]) });
    const col = (name) => columns[name] || [];
    box.append(
      lineChart(t("chartArrivals"), xs, [
        { name: t("arrivals"), values: col("arrivals") },
        { name: t("placed"), values: col("placed"), dash: true }, // arrivals show under it
        { name: t("refused"), values: col("refused") },
      ], { xLabel: ago }),
      lineChart(t("chartSla"), xs, [
        { name: "SLA %", values: slaPercent(col("sla_met"), col("sla_missed")) },
      ], { max: 100, unit: "%", xLabel: ago }),
      lineChart(t("chartTiers"), xs, TIERS.filter((tier) => col(`util_${tier}`).some((v) => v !== null))
        .map((tier) => ({ name: tier, values: col(`util_${tier}`).map((v) => (v === null ? null : 100 * v)) })),
      { ceiling: 100, unit: "%", xLabel: ago }),
      lineChart(t("chartSites"), xs, Object.entries(sites)
        .map(([site, values]) => ({ name: site, values: values.map((v) => (v === null ? null : 100 * v)) })),
      { ceiling: 100, unit: "%", xLabel: ago }),
    );
  }
}
