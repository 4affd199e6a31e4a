// The map: drivers' live positions, each driver's route of the day with numbered stops, trips
// not yet assigned, late and at-risk trips highlighted. Leaflet from our own static files;
// without tiles (or without Leaflet) everything else still works.

const PALETTE = ["#1d4ed8", "#047857", "#7c3aed", "#b45309", "#0e7490", "#be185d",
  "#4d7c0f", "#9333ea", "#c2410c", "#0369a1", "#15803d", "#a21caf"];
const LATE = {late: "#b91c1c", at_risk: "#d97706"};

export const driverColour = (index) => PALETTE[index % PALETTE.length];

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class BoardMap {
  constructor(el, {tiles, attribution, center, onTrip, onDriver}) {
    this.ok = typeof window.L !== "undefined";
    this.markers = new Map();
    this.selected = null;
    this.fitted = false;
    if (!this.ok) {
      el.textContent = "The map could not load; the lists and the timeline still work.";
      return;
    }
    const L = window.L;
    this.onTrip = onTrip;
    this.onDriver = onDriver;
    this.map = L.map(el, {zoomSnap: 0.5}).setView(center, 11);
    if (tiles) L.tileLayer(tiles, {maxZoom: 19, attribution}).addTo(this.map);
    this.canvas = L.canvas({padding: 0.3});
    this.routes = L.layerGroup().addTo(this.map);
    this.stops = L.layerGroup().addTo(this.map);
    this.numbers = L.layerGroup().addTo(this.map);
    this.open = L.layerGroup().addTo(this.map);
    this.drivers = L.layerGroup().addTo(this.map);
  }

  // A driver's marker at its last known position (created on first sight).
  placeDriver(driver, label) {
    if (!this.ok || driver.last_lat == null || driver.last_lon == null) return;
    const at = [driver.last_lat, driver.last_lon];
    let marker = this.markers.get(driver.id);
    if (marker) {
      marker.setLatLng(at);
      return;
    }
    const icon = window.L.divIcon({
      className: "", iconSize: [22, 22],
      html: `<div class="drv-marker" data-driver="${esc(driver.id)}">${esc(label.initials)}</div>`,
    });
    marker = window.L.marker(at, {icon, title: label.name, alt: label.name, keyboard: true, zIndexOffset: 1000});
    marker.on("click", () => this.onDriver(driver.id));
    marker.addTo(this.drivers);
    this.markers.set(driver.id, marker);
  }

  driverAt(id) {
    const marker = this.markers.get(id);
    return marker ? marker.getLatLng() : null;
  }

  // routes: [{driver, colour, stops: [{lat, lon, booking, text, lateness}]}];
  // open: [{booking, lat, lon, text, lateness}] (unassigned pick-ups).
  drawTrips(routes, open) {
    if (!this.ok) return;
    const L = window.L;
    this.routes.clearLayers();
    this.stops.clearLayers();
    this.open.clearLayers();
    const bounds = [];
    for (const route of routes) {
      const line = route.stops.map((s) => [s.lat, s.lon]);
      bounds.push(...line);
      L.polyline(line, {color: route.colour, weight: 3, opacity: 0.75, className: "route",
        interactive: false}).addTo(this.routes);
      route.stops.forEach((s, i) => {
        const dot = L.circleMarker([s.lat, s.lon], {
          renderer: this.canvas, radius: s.lateness ? 7 : 5, weight: s.lateness ? 3 : 1.5,
          color: LATE[s.lateness] || route.colour, fillColor: "#fff", fillOpacity: 1,
        });
        dot.bindTooltip(`${i + 1} · ${s.text}`);
        dot.on("click", () => this.onTrip(s.booking));
        dot.addTo(this.stops);
      });
    }
    for (const s of open) {
      bounds.push([s.lat, s.lon]);
      const dot = L.circleMarker([s.lat, s.lon], {
        renderer: this.canvas, radius: 6, weight: 2, color: LATE[s.lateness] || "#92400e",
        fillColor: "#fbbf24", fillOpacity: 0.9,
      });
      dot.bindTooltip(`Unassigned · ${s.text}`);
      dot.on("click", () => this.onTrip(s.booking));
      dot.addTo(this.open);
    }
    for (const m of this.markers.values()) bounds.push(m.getLatLng());
    if (!this.fitted && bounds.length) {
      this.map.fitBounds(bounds, {padding: [20, 20], maxZoom: 14, animate: false});
      this.fitted = true;
    }
    this.lastRoutes = routes;
    if (this.selected) this.select(this.selected);
  }

  // Numbered stops of one driver's route (all drivers' numbers at once would bury the map).
  select(driverId) {
    if (!this.ok) return;
    this.selected = driverId;
    this.numbers.clearLayers();
    const route = (this.lastRoutes || []).find((r) => r.driver === driverId);
    if (!route) return;
    route.stops.forEach((s, i) => {
      const icon = window.L.divIcon({className: "", iconSize: [18, 18],
        html: `<div class="stop-n" style="border-color:${route.colour}">${i + 1}</div>`});
      const m = window.L.marker([s.lat, s.lon], {icon, title: s.text, keyboard: false});
      m.on("click", () => this.onTrip(s.booking));
      m.addTo(this.numbers);
    });
  }
}
