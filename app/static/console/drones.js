// The drones layer: one canvas for the whole fleet, so thousands of drones stay smooth.
// Each drone is a dot coloured by status with a ring showing its battery, copied from a
// small pre-drawn picture; only drones inside the view are projected.

export const DRONE_COLOURS = {
  available: "#2b8a3e", dispatched: "#e8590c", en_route: "#f08c00", on_scene: "#c92a2a",
  returning: "#1971c2", charging: "#7048e8", maintenance: "#868e96", offline: "#212529",
};
const RADIUS = 5;
const RING = 8;
const HIT_PX = 10;
const LOW_BATTERY = 30;
const FAN_PX = 14;

const SPRITE_HALF = RING + 2;
const sprites = new Map();

/** A drone's picture (dot and battery ring, battery in 5 % steps), drawn once and reused:
 * copying a small bitmap per drone is far cheaper than stroking two arcs per drone. */
function sprite(status, battery, ratio) {
  const step = Math.round(Math.max(0, Math.min(100, battery)) / 5) * 5;
  const key = `${status}:${step}:${battery < LOW_BATTERY}:${ratio}`;
  let canvas = sprites.get(key);
  if (canvas) return canvas;
  canvas = document.createElement("canvas");
  canvas.width = canvas.height = 2 * SPRITE_HALF * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.fillStyle = DRONE_COLOURS[status] || "#000";
  ctx.beginPath();
  ctx.arc(SPRITE_HALF, SPRITE_HALF, RADIUS, 0, 2 * Math.PI);
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = battery < LOW_BATTERY ? "#e03131" : "#37b24d";
  ctx.beginPath();
  ctx.arc(SPRITE_HALF, SPRITE_HALF, RING, -Math.PI / 2, -Math.PI / 2 + (2 * Math.PI * step) / 100);
  ctx.stroke();
  sprites.set(key, canvas);
  return canvas;
}

export const DroneLayer = L.Layer.extend({
  initialize() {
    this._features = [];
    this.drawn = 0;
  },

  setData(features) {
    this._features = features;
    this._schedule();
  },

  onAdd(map) {
    this._canvas = L.DomUtil.create("canvas", "drone-canvas leaflet-zoom-hide");
    this._canvas.setAttribute("aria-label", "Drones");
    // Above the station and unit markers, so docked drones are not hidden under them.
    const pane = map.getPane("drones") || map.createPane("drones");
    pane.style.zIndex = 640;
    // Clicks pass through to the markers below; the map's click handler hit-tests drones.
    pane.style.pointerEvents = "none";
    pane.appendChild(this._canvas);
    map.on("moveend zoomend resize viewreset", this._reset, this);
    this._reset();
  },

  onRemove(map) {
    map.off("moveend zoomend resize viewreset", this._reset, this);
    L.DomUtil.remove(this._canvas);
    this._canvas = null;
    this.drawn = 0;
    document.body.dataset.dronesDrawn = "0";
  },

  _reset() {
    const map = this._map;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    L.DomUtil.setPosition(this._canvas, map.containerPointToLayerPoint([0, 0]));
    this._canvas.width = size.x * ratio;
    this._canvas.height = size.y * ratio;
    this._canvas.style.width = `${size.x}px`;
    this._canvas.style.height = `${size.y}px`;
    this._draw();
  },

  _schedule() {
    if (!this._map || this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      if (this._map) this._draw();
    });
  },

  /** Container points of the drones in view, with their features. */
  _visible() {
    const map = this._map;
    const bounds = map.getBounds().pad(0.05);
    const south = bounds.getSouth(), north = bounds.getNorth();
    const west = bounds.getWest(), east = bounds.getEast();
    const points = [];
    const stacks = new Map();
    for (const feature of this._features) {
      const [lon, lat] = feature.geometry.coordinates;
      if (lat < south || lat > north || lon < west || lon > east) continue;
      const point = map.latLngToContainerPoint([lat, lon]);
      const key = `${Math.round(point.x)},${Math.round(point.y)}`;
      if (!stacks.has(key)) stacks.set(key, []);
      stacks.get(key).push(point);
      points.push([point, feature]);
    }
    // Drones docked at one station share a position: fan them out around it to see each.
    for (const stack of stacks.values()) {
      if (stack.length < 2) continue;
      const spread = FAN_PX + stack.length;
      stack.forEach((point, index) => {
        const angle = (2 * Math.PI * index) / stack.length - Math.PI / 2;
        point.x += spread * Math.cos(angle);
        point.y += spread * Math.sin(angle);
      });
    }
    return points;
  },

  _draw() {
    const ctx = this._canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
    const visible = this._visible();
    for (const [point, feature] of visible) {
      const { status, battery_pct: battery } = feature.properties;
      // Whole pixels: a copy at a fractional offset is resampled, several times slower.
      ctx.drawImage(sprite(status, battery, ratio), Math.round(point.x) - SPRITE_HALF,
        Math.round(point.y) - SPRITE_HALF, 2 * SPRITE_HALF, 2 * SPRITE_HALF);
    }
    this.drawn = visible.length;
    document.body.dataset.dronesDrawn = String(visible.length);
    this.fire("drawn", { count: visible.length });
  },

  /** The drone drawn nearest to a container point (within a few pixels), or null. */
  hit(containerPoint) {
    if (!this._map) return null;
    let best = null;
    let bestDistance = HIT_PX;
    for (const [point, feature] of this._visible()) {
      const distance = point.distanceTo(containerPoint);
      if (distance <= bestDistance) {
        best = feature;
        bestDistance = distance;
      }
    }
    return best;
  },
});

/** A basemap layer on this server's tiles: each tile is fetched with the bearer token. */
export const TokenTileLayer = L.GridLayer.extend({
  initialize(template, token, options) {
    this._template = template;
    this._token = token;
    L.GridLayer.prototype.initialize.call(this, options);
    this.on("tileunload", (event) => event.tile._controller?.abort());
  },

  createTile(coords, done) {
    const tile = document.createElement("img");
    tile.alt = "";
    const controller = new AbortController();
    tile._controller = controller;
    const url = this._template.replace("{z}", coords.z).replace("{x}", coords.x)
      .replace("{y}", coords.y);
    fetch(url, { headers: { Authorization: `Bearer ${this._token()}` }, signal: controller.signal })
      .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(response.status))))
      .then((blob) => {
        tile.onload = () => {
          URL.revokeObjectURL(tile.src);
          done(null, tile);
        };
        tile.src = URL.createObjectURL(blob);
      })
      .catch((error) => done(error, tile));
    return tile;
  },
});
