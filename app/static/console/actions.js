// Operator actions started from the map: report an incident where the map is clicked (and
// show the dispatch decision), and draw a new monitored area as a polygon.

import { api } from "./api.js";
import {
  clearDetails, facts, h, metres, notify, reportError, seconds, showDetails,
} from "./ui.js";

const TYPES = ["burglary", "robbery", "assault", "fire", "vehicle_theft", "suspicious_activity",
  "medical", "other"];

export function mapActions(map, refresh) {
  let mode = null;
  let sketch = null;
  const hint = document.getElementById("mode-hint");

  function setMode(next, text = "") {
    mode = next;
    hint.textContent = text;
    map.getContainer().classList.toggle("picking", Boolean(next));
    document.body.dataset.mode = next || "";
  }

  function reportForm(latlng) {
    const type = h("select", { name: "type", "aria-label": "Type" },
      TYPES.map((t) => h("option", { value: t }, t.replace("_", " "))));
    const severity = h("select", { name: "severity", "aria-label": "Severity" },
      [1, 2, 3, 4, 5].map((s) => h("option", { value: s, selected: s === 3 }, `severity ${s}`)));
    const description = h("textarea", { name: "description", rows: 2, maxlength: 2000,
      placeholder: "What happened (optional)" });
    const marker = L.circleMarker(latlng, { radius: 9, color: "#000", dashArray: "3 3" })
      .addTo(map);
    const submit = async (event) => {
      event.preventDefault();
      try {
        const answer = await api("/api/incidents", { method: "POST", body: {
          type: type.value, severity: Number(severity.value), description: description.value,
          latitude: latlng.lat, longitude: latlng.lng } });
        showDecision(answer);
        refresh("fast");
      } catch (error) {
        reportError(error);
      } finally {
        marker.remove();
      }
    };
    showDetails("Report an incident", facts([
      ["Where", `${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)}`]]),
    h("form", { class: "action-form", id: "report-form", onsubmit: submit }, type, severity,
      description, h("button", { type: "submit" }, "Report and dispatch"),
      h("button", { type: "button", onclick: () => { marker.remove(); clearDetails(); } },
        "Cancel")));
  }

  function startDrawing() {
    sketch = { points: [], line: L.polyline([], { color: "#2f9e44", dashArray: "5 5" }).addTo(map) };
    setMode("draw", "Click the corners of the area; then Finish.");
    showDetails("Draw an area", h("p", { id: "draw-count" }, "0 corners"),
      h("div", { class: "action-form" },
        h("button", { type: "button", id: "finish-area", onclick: finishDrawing }, "Finish"),
        h("button", { type: "button", onclick: stopDrawing }, "Cancel")));
  }

  function stopDrawing() {
    sketch?.line.remove();
    sketch = null;
    setMode(null);
  }

  function finishDrawing() {
    if (!sketch || sketch.points.length < 3) {
      notify("An area needs at least three corners.", "error");
      return;
    }
    const ring = sketch.points.map((p) => [p.lng, p.lat]);
    ring.push(ring[0]);
    sketch.line.setLatLngs([...sketch.points, sketch.points[0]]);
    const name = h("input", { name: "name", required: true, maxlength: 120,
      placeholder: "Name of the area" });
    const save = async (event) => {
      event.preventDefault();
      try {
        const area = await api("/api/area-configs", { method: "POST", body: {
          name: name.value, geometry: { type: "Polygon", coordinates: [ring] } } });
        notify(`Area ${area.name} created: ${area.tile_count} tiles at zoom ${area.zoom}.`);
        stopDrawing();
        refresh("slow");
        showDetails(`Area ${area.name}`, facts([["Tiles", area.tile_count]]));
      } catch (error) {
        reportError(error);
      }
    };
    setMode(null);
    showDetails("Save the area", h("form", { class: "action-form", id: "area-form", onsubmit: save },
      name, h("button", { type: "submit" }, "Save area"),
      h("button", { type: "button", onclick: stopDrawing }, "Cancel")));
  }

  /** Handle a map click if an action is waiting for one; true when it was used. */
  function click(latlng) {
    if (mode === "report") {
      setMode(null);
      reportForm(latlng);
      return true;
    }
    if (mode === "draw") {
      sketch.points.push(latlng);
      sketch.line.setLatLngs(sketch.points);
      document.getElementById("draw-count").textContent = `${sketch.points.length} corners`;
      return true;
    }
    return false;
  }

  return {
    click,
    report: () => setMode("report", "Click the map where the incident is."),
    draw: startDrawing,
  };
}

function showDecision({ incident, dispatch }) {
  const drone = dispatch.drone;
  const unit = dispatch.ground_unit;
  const rows = (items, id) => items.map((r) => h("tr", {},
    h("td", {}, r.serial || r.callsign || r[id]), h("td", {}, seconds(r.eta_s)),
    h("td", {}, metres(r.distance_m)), h("td", {}, r.reason), h("td", {}, r.detail || "")));
  const table = (caption, items, id) => (items?.length ? h("table", { class: "runners-up" },
    h("caption", {}, caption),
    h("tr", {}, ["", "ETA", "distance", "reason", ""].map((t) => h("th", {}, t))),
    rows(items, id)) : null);
  showDetails(`Incident ${incident.id} reported`,
    h("p", { id: "dispatch-outcome", class: "outcome" }, dispatch.outcome),
    facts([
      ["Drone", drone ? `${drone.serial}, ETA ${seconds(drone.eta_s)} (${metres(drone.distance_m)}, `
        + `battery ${Math.round(drone.battery_pct)} %, needs ${Math.round(drone.battery_needed_pct)} %)`
        : "none could go: queued"],
      ["Ground unit", unit ? `${unit.callsign} (${unit.kind.replace("_", " ")}), ETA `
        + `${seconds(unit.eta_s)}` : "none free"],
      ["Flight plan", dispatch.flight_plan_id]]),
    table("Drones not sent", dispatch.runners_up, "drone_id"),
    table("Ground units not sent", dispatch.ground_unit_runners_up, "ground_unit_id"));
}
