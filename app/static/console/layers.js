// The map's layers: what each loads from the API, how it draws, and its legend.
// "fast" layers are polled every few seconds, "slow" ones now and then, "manual" ones when
// asked (the hotspot analysis is heavy).

import { api, Feed } from "./api.js";
import { DRONE_COLOURS, DroneLayer } from "./drones.js";
import { h } from "./ui.js";

const OPEN_INCIDENTS = "queued,dispatched,en_route,on_scene";
export const SEVERITY_COLOURS = ["", "#74c0fc", "#ffd43b", "#ff922b", "#f03e3e", "#862e9c"];
const UNIT_COLOURS = { available: "#2b8a3e", dispatched: "#e8590c", on_scene: "#c92a2a",
  off_duty: "#868e96" };
export const PLAN_COLOURS = { draft: "#adb5bd", submitted: "#f59f00", approved: "#2f9e44",
  denied: "#e03131", failed: "#862e9c", active: "#1971c2", completed: "#495057",
  cancelled: "#868e96" };
// Forecast cells are outlined only, so the significance colours beneath stay readable.
const FORECAST_COLOUR = "#1c7ed6";
const HOT_COLOURS = { 3: "#c92a2a", 2: "#f03e3e", 1: "#ff8787", "-1": "#74c0fc",
  "-2": "#339af0", "-3": "#1864ab" };

// Colours go through the CSSOM (a custom property), never a style attribute, which the
// page's Content-Security-Policy refuses.
const divIcon = (className, text = "", colour = "") => L.divIcon({
  className: "", iconSize: [22, 22], iconAnchor: [11, 11],
  html: h("span", { class: className, style: { "--c": colour } }, text),
});

/** The current minute, so the flight plan URL (and its ETag) holds still within it. */
const thisMinute = () => `${new Date().toISOString().slice(0, 16)}:00Z`;

export function buildLayers(map, show) {
  const group = () => L.layerGroup();
  const drones = new DroneLayer();
  const layers = [
    {
      id: "stations", name: "Stations", speed: "slow", on: true, layer: group(),
      legend: [["square", "#1c2a39", "station"]],
      feed: new Feed("/api/stations?limit=500"),
      draw(layer, page) {
        for (const station of page.items) {
          L.marker([station.latitude, station.longitude], {
            icon: divIcon("station-icon", "S"), title: station.name, keyboard: false,
          }).on("click", () => show.station(station)).addTo(layer);
        }
      },
    },
    {
      id: "drones", name: "Drones", speed: "fast", on: true, layer: drones,
      legend: Object.entries(DRONE_COLOURS).map(([status, colour]) => ["dot", colour, status])
        .concat([["ring", "#37b24d", "battery ring (red below 30 %)"]]),
      feed: new Feed("/api/drones/positions"),
      draw(layer, collection) { layer.setData(collection.features); },
      count: (collection) => collection.features.length,
    },
    {
      id: "units", name: "Ground units", speed: "fast", on: true, layer: group(),
      legend: Object.entries(UNIT_COLOURS).map(([status, colour]) => ["diamond", colour, status]),
      feed: new Feed("/api/ground-units?limit=500"),
      draw(layer, page) {
        for (const unit of page.items) {
          L.marker([unit.latitude, unit.longitude], {
            icon: divIcon("unit-icon", "", UNIT_COLOURS[unit.status]), title: unit.callsign,
            keyboard: false,
          }).on("click", () => show.unit(unit)).addTo(layer);
        }
      },
    },
    {
      id: "incidents", name: "Open incidents", speed: "fast", on: true, layer: group(),
      legend: [1, 2, 3, 4, 5].map((s) => ["dot", SEVERITY_COLOURS[s], `severity ${s}`]),
      feed: new Feed(`/api/incidents?status=${OPEN_INCIDENTS}&limit=500`),
      draw(layer, page) {
        for (const incident of page.items) {
          const marker = L.marker([incident.latitude, incident.longitude], {
            icon: divIcon(`incident-icon incident-${incident.id}`, incident.severity,
              SEVERITY_COLOURS[incident.severity]),
            title: `Incident ${incident.id}: ${incident.type}`, zIndexOffset: 1000,
          });
          marker.on("click", () => show.incident(incident)).addTo(layer);
        }
      },
      count: (page) => page.items.length,
    },
    {
      id: "plans", name: "Flight plans (now)", speed: "fast", on: true, layer: group(),
      legend: Object.entries(PLAN_COLOURS).slice(0, 6).map(([s, c]) => ["line", c, s]),
      feed: new Feed("/api/flight-plans?limit=500"),
      url: () => `/api/flight-plans?limit=500&active_at=${thisMinute()}`,
      draw(layer, page) {
        for (const plan of page.items) {
          const colour = PLAN_COLOURS[plan.state];
          if (plan.volume?.footprint) {
            L.geoJSON(plan.volume.footprint, { style: { color: colour, weight: 1,
              fillOpacity: 0.08, dashArray: "4 4" } }).on("click", () => show.plan(plan))
              .addTo(layer);
          }
          L.polyline(plan.route.map((p) => [p.latitude, p.longitude]), { color: colour,
            weight: 3 }).on("click", () => show.plan(plan)).addTo(layer);
        }
      },
    },
    {
      id: "zones", name: "No-fly zones", speed: "slow", on: true, layer: group(),
      legend: [["area", "#e03131", "no-fly zone"]],
      feed: new Feed("/api/no-fly-zones?limit=500"),
      draw(layer, page) {
        for (const zone of page.items) {
          L.geoJSON(zone.geometry, { style: { color: "#e03131", weight: 2, fillOpacity: 0.15 } })
            .on("click", () => show.zone(zone)).addTo(layer);
        }
      },
    },
    {
      id: "hotspots", name: "Hotspots", speed: "manual", on: false, layer: group(),
      legend: [3, 2, 1, -1, -2, -3].map((b) => ["area", HOT_COLOURS[b],
        `${b > 0 ? "hot" : "cold"} ${[90, 95, 99][Math.abs(b) - 1]} %`])
        .concat([["dot", "#000", "hot zone centre"],
          ["line", FORECAST_COLOUR, "forecast: most expected next 7 days"]]),
      url: (params) => `/api/analytics/hotspots?format=geojson&${params}`,
      draw(layer, collection) {
        L.geoJSON(collection, {
          style: (f) => (f.properties.kind === "forecast"
            ? { color: FORECAST_COLOUR, weight: 2, dashArray: "4 3", fillOpacity: 0 }
            : { color: HOT_COLOURS[f.properties.bin] || "#999", weight: 1, fillOpacity: 0.45 }),
          pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 6, color: "#000",
            fillColor: "#fff", fillOpacity: 1 }),
          onEachFeature: (f, l) => l.on("click", () => show.hotspot(f, collection)),
        }).addTo(layer);
        show.analysis(collection);
      },
    },
    {
      id: "patrols", name: "Patrol loops", speed: "manual", on: false, layer: group(),
      legend: [["line", "#9c36b5", "suggested patrol"]],
      url: (params) => `/api/analytics/patrols?${params}`,
      draw(layer, answer) {
        answer.count = answer.patrols.filter((patrol) => patrol.route).length;
        for (const patrol of answer.patrols) {
          if (!patrol.route) continue;
          L.polyline(patrol.route.waypoints.map((p) => [p.latitude, p.longitude]), {
            color: "#9c36b5", weight: 3, dashArray: "8 6",
          }).on("click", () => show.patrol(patrol)).addTo(layer);
        }
      },
      count: (answer) => answer.count,
    },
    {
      id: "areas", name: "Land-watch areas", speed: "slow", on: true, layer: group(),
      legend: [["area", "#2f9e44", "monitored area"]],
      feed: new Feed("/api/area-configs?limit=500"),
      draw(layer, page) {
        for (const area of page.items) {
          L.geoJSON(area.geometry, { style: { color: "#2f9e44", weight: 2, fillOpacity: 0.05,
            className: `area-outline area-${area.id}` } })
            .on("click", () => show.area(area)).addTo(layer);
        }
      },
    },
    {
      id: "changes", name: "Land changes", speed: "slow", on: true, layer: group(),
      legend: [["area", "#c92a2a", "confirmed"], ["area dashed", "#f08c00", "suspected"]],
      feed: new Feed("/api/alerts/sessions?with_changes=true&limit=20"),
      async expand(page) {
        const pages = await Promise.all(page.items.map((session) => api(
          `/api/alerts/sessions/${session.id}/details?format=geojson&limit=500`)));
        return pages.flatMap((collection) => collection.features);
      },
      draw(layer, features) {
        L.geoJSON({ type: "FeatureCollection", features }, {
          style: (f) => (f.properties.status === "confirmed"
            ? { color: "#c92a2a", weight: 3, fillOpacity: 0.3, className: "change-confirmed" }
            : { color: "#f08c00", weight: 2, dashArray: "4 3", fillOpacity: 0.2,
              className: "change-suspected" }),
          onEachFeature: (f, l) => l.on("click", () => show.change(f.properties)),
        }).addTo(layer);
      },
      count: (features) => features.length,
    },
  ];
  return { layers, drones };
}

/** The layer list with a switch, a count and a legend for each layer. */
export function layerControls(layers, onToggle) {
  return layers.map((entry) => h("div", { class: "layer", dataset: { layer: entry.id } },
    h("label", {},
      h("input", { type: "checkbox", checked: entry.on, "data-layer-toggle": entry.id,
        onchange: (event) => onToggle(entry, event.target.checked) }),
      ` ${entry.name} `, h("span", { class: "count", id: `count-${entry.id}` })),
    h("ul", { class: "legend" }, entry.legend.map(([shape, colour, label]) =>
      h("li", {}, h("span", { class: `swatch ${shape}`, style: { "--c": colour } }), label)))));
}
