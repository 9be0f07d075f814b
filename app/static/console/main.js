// The console: sign-in, the map and its layers, live polling, and the panel.

import * as auth from "./api.js";
import { mapActions } from "./actions.js";
import { detailViews } from "./details.js";
import { TokenTileLayer } from "./drones.js";
import { buildLayers, layerControls } from "./layers.js";
import { notify, reportError, togglePanel } from "./ui.js";

const FAST_MS = 3000;
const SLOW_MS = 30000;
const SOWETO = [-26.25, 27.89];
const $ = (id) => document.getElementById(id);
let session = null;

function showLogin(message = "") {
  $("login").hidden = false;
  $("workspace").hidden = true;
  $("logout").hidden = true;
  $("whoami").hidden = true;
  $("login-error").textContent = message;
  delete document.body.dataset.role;
}

function end(message) {
  if (session) {
    session.timers.forEach(clearInterval);
    session.map.remove();
    session = null;
    delete window.cps;
  }
  showLogin(message);
}

/** The hotspot analysis parameters from the panel's form, as a query string. */
function hotspotQuery() {
  const form = new FormData($("hotspot-form"));
  const query = new URLSearchParams();
  const days = Number(form.get("days"));
  if (days > 0) query.set("since", new Date(Date.now() - days * 86400e3).toISOString().slice(0, 19) + "Z");
  for (const name of ["resolution", "k", "alpha", "min_severity", "half_life_days"]) {
    if (form.get(name)) query.set(name, form.get(name));
  }
  return query.toString();
}

async function load(entry, force = false) {
  let data;
  if (entry.feed) {
    if (entry.url) entry.feed.setUrl(entry.url());
    const answer = await entry.feed.poll();
    if (!answer.changed && entry.drawn && !force) return;
    data = answer.data;
  } else {
    data = await auth.api(entry.url(hotspotQuery()));
  }
  if (entry.expand) data = await entry.expand(data);
  if (!session || !entry.on) return;
  entry.layer.clearLayers?.();
  entry.draw(entry.layer, data);
  entry.drawn = true;
  if (entry.count) $(`count-${entry.id}`).textContent = `(${entry.count(data)})`;
}

/** Reload the layers of one speed ("fast", "slow", "manual", or "all" but manual). */
async function refresh(speed, force = false) {
  if (!session) return;
  const due = session.layers.filter((entry) => entry.on
    && (speed === "all" ? entry.speed !== "manual" : entry.speed === speed));
  const results = await Promise.allSettled(due.map((entry) => load(entry, force)));
  const failed = results.find((result) => result.status === "rejected");
  if (failed && session) reportError(failed.reason);
}

function toggle(entry, on) {
  entry.on = on;
  entry.drawn = false;
  if (!on) {
    entry.layer.remove();
    $(`count-${entry.id}`).textContent = "";
    return;
  }
  entry.layer.addTo(session.map);
  load(entry, true).catch(reportError);
}

async function addBasemap(map) {
  const base = await auth.api("/api/basemap");
  const options = { attribution: base.attribution, minZoom: base.min_zoom,
    maxNativeZoom: base.max_zoom, maxZoom: 20 };
  const layer = base.needs_token
    ? new TokenTileLayer(base.tile_url, auth.accessToken, options)
    : L.tileLayer(base.tile_url, options);
  layer.addTo(map);
}

function fitToFleet(map, entries) {
  const points = [];
  for (const entry of entries) {
    if (entry.id === "stations") entry.feed.data?.items.forEach((s) => points.push([s.latitude, s.longitude]));
    if (entry.id === "drones") entry.feed.data?.features.forEach((f) => points.push([f.geometry.coordinates[1], f.geometry.coordinates[0]]));
  }
  if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
}

async function start(user) {
  document.body.dataset.role = user.role;
  $("login").hidden = true;
  $("workspace").hidden = false;
  $("logout").hidden = false;
  $("whoami").hidden = false;
  $("whoami").textContent = `${user.username} (${user.role})`;
  for (const element of document.querySelectorAll("[data-requires=writer]")) {
    element.hidden = !auth.canWrite();
  }
  // Explicit zoom limits: otherwise the basemap's own limits would bind the whole map.
  const map = L.map("map", { minZoom: 3, maxZoom: 20 }).setView(SOWETO, 13);
  const show = detailViews(refresh);
  const { layers, drones } = buildLayers(map, show);
  const actions = mapActions(map, refresh);
  session = { map, layers, timers: [] };
  window.cps = { map };
  const fleetShown = (event) => {
    if (!event.count) return;
    drones.off("drawn", fleetShown);
    if (!performance.getEntriesByName("cps-login").length) return;
    performance.mark("cps-fleet-shown");
    const measure = performance.measure("cps-login-to-fleet", "cps-login", "cps-fleet-shown");
    document.body.dataset.fleetShownMs = measure.duration.toFixed(0);
  };
  drones.on("drawn", fleetShown);
  map.on("click", (event) => {
    if (actions.click(event.latlng)) return;
    const drone = drones.hit(event.containerPoint);
    if (drone) show.drone(drone);
  });
  $("report-incident").onclick = actions.report;
  $("draw-area").onclick = actions.draw;
  $("layer-list").replaceChildren(...layerControls(layers, toggle));
  $("hotspot-form").onsubmit = (event) => {
    event.preventDefault();
    for (const entry of layers.filter((l) => l.speed === "manual" && !l.on)) {
      entry.on = true;
      document.querySelector(`[data-layer-toggle=${entry.id}]`).checked = true;
      entry.layer.addTo(map);
    }
    refresh("manual", true);
  };
  $("details-body").textContent = "Click anything on the map to see it here.";
  document.body.classList.remove("panel-open");
  layers.filter((entry) => entry.on).forEach((entry) => entry.layer.addTo(map));
  await Promise.all([addBasemap(map).catch(reportError), refresh("all")]);
  fitToFleet(map, layers);
  session.timers.push(setInterval(() => refresh("fast"), FAST_MS),
    setInterval(() => refresh("slow"), SLOW_MS));
}

async function onLogin(event) {
  event.preventDefault();
  performance.clearMarks();
  performance.mark("cps-login");
  try {
    const user = await auth.login($("username").value, $("password").value);
    $("password").value = "";
    await start(user);
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

function boot() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", async () => {
    await auth.logout();
    end("");
    notify("Logged out.");
  });
  $("panel-toggle").addEventListener("click", togglePanel);
  window.addEventListener("cps:signed-out", () => end("Your sign-in has ended; sign in again."));
  auth.resume().then((user) => (user ? start(user) : showLogin())).catch(() => showLogin());
}

boot();
