// Small DOM helpers: build elements, show details, say what went wrong.

/** Create an element: h("button", {class: "x", onclick}, "text", child...). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "style") {
      for (const [property, v] of Object.entries(value)) element.style.setProperty(property, v);
    }
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A definition list of label → value pairs, skipping empty values. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

/** Replace the details panel's content and bring it into view. */
export function showDetails(title, ...content) {
  const body = document.getElementById("details-body");
  body.replaceChildren(h("h3", {}, title), ...content);
  document.getElementById("details").dataset.kind = title.split(" ")[0].toLowerCase();
  openPanel();
  body.scrollIntoView({ block: "nearest" });
}

export function clearDetails() {
  document.getElementById("details-body").replaceChildren();
}

/** Say something to the user for a few seconds (errors stay until replaced). */
export function notify(message, kind = "info") {
  const toast = document.getElementById("toast");
  toast.textContent = message;
  toast.className = `toast ${kind}`;
  toast.hidden = false;
  clearTimeout(notify.timer);
  if (kind !== "error") notify.timer = setTimeout(() => { toast.hidden = true; }, 4000);
}

/** Show an API error's detail in words. */
export function reportError(error) {
  notify(error.message || String(error), "error");
}

export function openPanel() {
  document.body.classList.add("panel-open");
  document.getElementById("panel-toggle").setAttribute("aria-expanded", "true");
}

export function togglePanel() {
  const open = document.body.classList.toggle("panel-open");
  document.getElementById("panel-toggle").setAttribute("aria-expanded", String(open));
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
export const seconds = (s) => (s === null || s === undefined ? "—"
  : s >= 120 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`);
export const metres = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);
