// The header's switches (language, colour theme), the tabs as a keyboard tablist, the list of
// sites beside the map, and focus kept on a table row through a redraw.

import { apply, lang, setLang } from "./i18n.js";

const THEME = "suanwang.theme";
const THEMES = ["auto", "light", "dark"];

/** The theme chosen: "auto" follows prefers-color-scheme (style.css), the others force it. */
function setTheme(name) {
  const theme = THEMES.includes(name) ? name : "auto";
  localStorage.setItem(THEME, theme);
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

export function initSwitches() {
  const language = document.getElementById("lang");
  language.value = lang();
  language.addEventListener("change", () => setLang(language.value));
  const theme = document.getElementById("theme");
  theme.value = THEMES.includes(localStorage.getItem(THEME)) ? localStorage.getItem(THEME) : "auto";
  setTheme(theme.value);
  theme.addEventListener("change", () => setTheme(theme.value));
  apply();
}

/** Mark the tab ``name`` selected: one tab stop (the selected tab), the others by arrows. */
export function selectTab(name) {
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    const on = tab.dataset.tab === name;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
}

/** Arrow keys, Home and End move between the tabs; Enter and Space select (a button's own). */
export function initTablist() {
  const list = document.getElementById("tabs");
  list.addEventListener("keydown", (event) => {
    const tabs = [...list.querySelectorAll("[role=tab]")];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    let next = null;
    if (step) next = (at + step + tabs.length) % tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = tabs.length - 1;
    if (next === null) return;
    event.preventDefault();
    for (const tab of tabs) tab.tabIndex = -1;
    tabs[next].tabIndex = 0;
    tabs[next].focus();
  });
}

const SITE_ITEMS = 2000; // more would be no list to read; the map and the nodes filter remain

/** The sites as buttons, filled when the list is first opened: the map's marks by keyboard. */
export function fillSiteList(sites, onSelect) {
  const box = document.getElementById("site-list");
  const list = box.querySelector("ul");
  list.replaceChildren();
  box.open = false;
  box.ontoggle = () => {
    if (!box.open || list.childElementCount) return;
    list.append(
      ...sites.slice(0, SITE_ITEMS).map((site) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.id = site.id;
        button.textContent = site.name;
        button.setAttribute("aria-label", `${site.name} (${site.tier})`);
        button.addEventListener("click", () => onSelect(site.id));
        item.append(button);
        return item;
      }),
    );
  };
}

/** Rows a keyboard can reach: focusable, Enter opens (as a click does). */
export function keyRow(tr, open) {
  tr.tabIndex = 0;
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  });
}

/** Replace a table body's rows and keep the focus on the row of the same id, if it had it. */
export function replaceRows(body, rows) {
  const focused = document.activeElement;
  const id = focused && focused.parentNode === body ? focused.dataset.id : null;
  body.replaceChildren(...rows);
  if (id) rows.find((tr) => tr.dataset.id === id)?.focus();
}
