// What clicking a thing on the map shows, and the actions that belong to one thing:
// an incident's status, an area's capture and comparison, a change's review.

import { api, apiBlob, canWrite } from "./api.js";
import { facts, h, metres, notify, reportError, seconds, showDetails, when } from "./ui.js";

const NEXT_STATUSES = ["en_route", "on_scene", "resolved", "cancelled"];
const POLL_MS = 1000;

export function detailViews(refresh) {
  return {
    station: (s) => showDetails(`Station ${s.name}`, facts([
      ["Docks", s.capacity], ["Active", s.active ? "yes" : "no"],
      ["Position", `${s.latitude.toFixed(5)}, ${s.longitude.toFixed(5)}`]])),

    drone: (f) => {
      const p = f.properties;
      showDetails(`Drone ${p.serial}`, facts([
        ["Status", p.status], ["Battery", `${Math.round(p.battery_pct)} %`],
        ["Incident", p.incident_id], ["Station", p.station_id],
        ["Position", `${f.geometry.coordinates[1].toFixed(5)}, ${f.geometry.coordinates[0].toFixed(5)}`],
        ["Last telemetry", when(p.last_telemetry_at)]]));
    },

    unit: (u) => showDetails(`Unit ${u.callsign}`, facts([
      ["Kind", u.kind.replace("_", " ")], ["Status", u.status], ["Incident", u.incident_id],
      ["Speed", `${u.speed_mps} m/s`], ["Location reported", when(u.location_at)]])),

    incident: (i) => showDetails(`Incident ${i.id}`, facts([
      ["Type", i.type.replace("_", " ")], ["Severity", i.severity], ["Status", i.status],
      ["Description", i.description], ["Reported", when(i.reported_at)],
      ["Drone", i.drone_id], ["Ground unit", i.ground_unit_id],
      ["ATC", i.atc_status], ["Needs an operator", i.needs_operator ? i.attention : null]]),
    canWrite() ? statusForm(i, refresh) : null),

    plan: (p) => showDetails(`Plan ${p.id}`, facts([
      ["Purpose", p.purpose], ["ATC state", p.state], ["Drone", p.drone_id],
      ["Incident", p.incident_id], ["ATC reference", p.atc_reference],
      ["Decision", p.decision_reason], ["Last error", p.last_error],
      ["Altitude", `${p.min_altitude_m}–${p.max_altitude_m} m`],
      ["Window", `${when(p.starts_at)} → ${when(p.ends_at)}`]])),

    zone: (z) => showDetails(`No-fly ${z.name}`, facts([
      ["Reason", z.reason], ["Floor", `${z.floor_m} m`],
      ["Ceiling", z.ceiling_m === null ? "none" : `${z.ceiling_m} m`],
      ["From", when(z.active_from)], ["Until", z.active_until ? when(z.active_until) : "removed"]])),

    hotspot: (f) => {
      const p = f.properties;
      showDetails(p.kind === "zone" ? `Zone ${p.rank ?? ""}` : `Cell ${f.id}`, facts(
        Object.entries(p).filter(([, v]) => typeof v !== "object")
          .map(([k, v]) => [k, typeof v === "number" ? +v.toFixed(4) : v])));
    },

    analysis: (collection) => {
      const c = collection.counts || {};
      document.getElementById("hotspot-summary").textContent = collection.note
        || `${c.incidents ?? 0} incidents, ${c.hot_cells ?? 0} hot and ${c.cold_cells ?? 0} cold `
        + `cells, ${c.zones ?? 0} zones`;
    },

    patrol: (p) => showDetails(`Patrol ${p.zone_id}`, facts([
      ["Station", p.station?.name], ["Drone", p.drone?.serial],
      ["Feasible", p.feasible ? "yes" : "no"], ["Length", p.route && metres(p.route.length_m)],
      ["Flight time", p.route && seconds(p.route.flight_time_s)], ["Note", p.note]])),

    area: (a) => showDetails(`Area ${a.name}`, facts([
      ["Tiles", `${a.tile_count} at zoom ${a.zoom}`], ["Provider", a.provider],
      ["Schedule", a.schedule], ["Enabled", a.enabled ? "yes" : "no"],
      ["Sensitivity", a.sensitivity]]),
    canWrite() ? areaActions(a, refresh) : null),

    change: (d) => showDetails(`Change ${d.id}`, facts([
      ["Status", d.status], ["Area", `${Math.round(d.area_m2)} m²`],
      ["Confidence", `${Math.round(d.confidence * 100)} %`], ["Colour difference", d.score],
      ["Review", d.review], ["Note", d.review_note], ["Found", when(d.created_at)]]),
    evidence(d), reviewForm(d, refresh)),
  };
}

function statusForm(incident, refresh) {
  const select = h("select", { name: "status", "aria-label": "New status" },
    NEXT_STATUSES.filter((s) => s !== incident.status).map((s) => h("option", { value: s }, s)));
  const note = h("input", { name: "note", placeholder: "Note (optional)", maxlength: 500 });
  return h("form", { class: "action-form", id: "status-form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const body = { status: select.value, ...(note.value ? { note: note.value } : {}) };
      const changed = await api(`/api/incidents/${incident.id}/status`, { method: "POST", body });
      notify(`Incident ${changed.id} is now ${changed.status}.`);
      refresh("fast");
      detailViews(refresh).incident(changed);
    } catch (error) {
      reportError(error);
    }
  } }, h("h4", {}, "Change status"), select, note, h("button", { type: "submit" }, "Change status"));
}

/** Follow a capture run or alert session until it ends, moving a progress bar. */
async function follow(url, done, bar, label) {
  for (;;) {
    const item = await api(url);
    const finished = done(item);
    bar.max = item.tiles_total || 1;
    bar.value = finished;
    label.textContent = `${item.state}: ${finished} of ${item.tiles_total} tiles`;
    if (item.state !== "running") return item;
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
}

function areaActions(area, refresh) {
  const bar = h("progress", { id: "area-progress", max: 1, value: 0 });
  const label = h("span", { id: "area-progress-label", role: "status" });
  const run = (kind) => async () => {
    try {
      if (kind === "capture") {
        const started = await api(`/api/monitor/capture/${area.id}`, { method: "POST" });
        const ended = await follow(`/api/monitor/captures/${started.id}`,
          (r) => r.tiles_done + r.tiles_failed + r.tiles_no_imagery, bar, label);
        notify(`Capture ${ended.sequence} of ${area.name}: ${ended.state}.`);
      } else {
        const started = await api(`/api/monitor/compare/${area.id}`, { method: "POST" });
        const ended = await follow(`/api/alerts/sessions/${started.id}`,
          (s) => s.tiles_compared + s.tiles_skipped, bar, label);
        notify(`Comparison of ${area.name}: ${ended.state}, ${ended.changes_count} changes.`);
        refresh("slow");
      }
    } catch (error) {
      reportError(error);
    }
  };
  return h("div", { class: "action-form" },
    h("button", { type: "button", id: "capture-area", onclick: run("capture") }, "Capture now"),
    h("button", { type: "button", id: "compare-area", onclick: run("compare") }, "Compare latest"),
    bar, label);
}

function evidence(detail) {
  if (!detail.evidence) return h("p", {}, "No evidence images were kept for this change.");
  const kinds = ["before", "after", "overlay"].filter((kind) => detail.evidence[kind]);
  const figures = kinds.map((kind) => [kind, detail.evidence[kind]]).map(([kind, url]) => {
    const img = h("img", { alt: `${kind} image`, class: "evidence", "data-evidence": kind });
    apiBlob(url).then((blob) => { img.src = URL.createObjectURL(blob); }).catch(reportError);
    return h("figure", {}, img, h("figcaption", {}, kind));
  });
  return h("div", { class: "evidence-row" }, figures);
}

function reviewForm(detail, refresh) {
  // A change is visible only to its area's owner and to admins: both may review it.
  if (!canWrite()) return null;
  const note = h("input", { name: "note", placeholder: "Note (optional)", maxlength: 2000 });
  const review = (verdict) => async () => {
    try {
      const body = { review: verdict, note: note.value || null };
      const changed = await api(`/api/alerts/details/${detail.id}`, { method: "PATCH", body });
      notify(`Change ${changed.id} ${changed.review}.`);
      refresh("slow");
      detailViews(refresh).change(changed);
    } catch (error) {
      reportError(error);
    }
  };
  return h("div", { class: "action-form" }, h("h4", {}, "Review"), note,
    h("button", { type: "button", id: "acknowledge", onclick: review("acknowledged") },
      "Acknowledge"),
    h("button", { type: "button", id: "dismiss", onclick: review("dismissed") }, "Dismiss"));
}
