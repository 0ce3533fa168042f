// Whether the control plane answers the polls: a banner says since when it has not, so that
// figures which stopped changing are not read as a quiet network.

import { ApiError, Unreachable } from "./api.js";
import { t } from "./i18n.js";

// A poll still unanswered after this long counts as no answer, though it may yet come.
const STALE_MS = 6000;
// Statuses a proxy or the server gives when the plane behind cannot answer.
const GATEWAY = [502, 503, 504];

/** True when an error means no answer from the plane (not a refusal it gave). */
export function unanswered(error) {
  return error instanceof Unreachable || (error instanceof ApiError && GATEWAY.includes(error.status));
}

const clock = (ms) => new Date(ms).toTimeString().slice(0, 8); // HH:MM:SS, local time

export class Liveness {
  constructor(banner, portal) {
    this.banner = banner;
    this.portal = portal;
    this.since = null; // when the first unanswered poll was sent
    this.pollSent = null; // when the poll in flight was sent
  }

  sent() {
    this.pollSent = Date.now();
  }

  answered() {
    this.pollSent = null;
    this.since = null;
    this.banner.hidden = true;
    this.portal.classList.remove("stale");
  }

  failed() {
    const at = this.pollSent ?? Date.now();
    this.pollSent = null;
    this.since ??= at;
    this.redraw();
    this.banner.hidden = false;
    this.portal.classList.add("stale");
  }

  /** The banner's text, in the language chosen. */
  redraw() {
    if (this.since !== null) this.banner.textContent = t("offline", { since: clock(this.since) });
  }

  /** On every tick, before a poll is skipped for the one in flight: has that one hung? */
  check() {
    if (this.pollSent !== null && Date.now() - this.pollSent > STALE_MS) {
      const at = this.pollSent;
      this.failed();
      this.pollSent = at; // still in flight: its answer, if it comes, hides the banner
    }
  }

  /** Logged out: nothing is polled, so nothing is stale. */
  reset() {
    this.answered();
  }
}
