// The dispatch board: loads the day through the public API, follows the company socket, and
// acts through the API (the same services and checks as every other client).
import {ApiError, Client, Live} from "./api.js";
import {Zone, parse} from "./time.js";
import {BoardMap, driverColour} from "./map.js";
import {Timeline} from "./timeline.js";

const root = document.getElementById("board");
const cfg = root.dataset;
const zone = new Zone(cfg.timezone);
const day = cfg.day;
const client = new Client({tokenUrl: cfg.tokenUrl, csrf: cfg.csrf, company: cfg.company});
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const ACTIVE = new Set(["pending", "assigned", "en_route", "arrived", "on_board"]);
const NOT_STARTED = new Set(["pending", "assigned"]);
const REASONS = {
  no_equipment: "no vehicle with the equipment it needs",
  no_capacity: "no vehicle with room for it",
  window_unreachable: "no driver can reach it in its window",
  no_room: "no driver has time for it",
};

const state = {
  company: null, bookings: new Map(), drivers: new Map(), shifts: new Map(),
  reasons: [], run: null, unassignedWhy: new Map(), chat: [], proposals: new Map(), clients: null,
};
window.board = {state, ready: false, positions: []};

// --- derived views --------------------------------------------------------------------------
const driverName = (d) => (d ? `${d.first_name} ${d.last_name}`.trim() || d.email : "");
const initials = (d) => `${(d.first_name || "?")[0]}${(d.last_name || "")[0] || ""}`.toUpperCase();
const driverOf = (b) => b.driver && (typeof b.driver === "string" ? b.driver : b.driver.id);
const clientName = (b) => (b.client ? `${b.client.first_name} ${b.client.last_name}` : "");

function minutesBetween(a, b) {
  const rad = Math.PI / 180, dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  const km = 12742 * Math.asin(Math.sqrt(h)) * 1.3;
  return 5 + (km / 40) * 60;  // a rough ride (40 km/h on roads 1.3x the straight line) + loading
}

// The live day's ETAs when the booking has them, else the plan.
function tripTimes(b) {
  const start = parse(b.eta_pickup) ?? parse(b.scheduled_at);
  const end = parse(b.eta_dropoff) ?? parse(b.appointment_at) ??
    start + minutesBetween(b.pickup, b.dropoff) * 60000;
  return {start, end: Math.max(end, start + 5 * 60000)};
}

// `lateness` as the server computes it (the live day's ETAs against the windows): `late`,
// `at_risk` or `on_time`/empty (no ETA yet). Only a server without the field gets the rough
// approximation: not picked up past its window is late, within 10 minutes of its end at risk.
function lateness(b, now = Date.now()) {
  if ("lateness" in b) return b.lateness === "late" || b.lateness === "at_risk" ? b.lateness : null;
  if (!NOT_STARTED.has(b.status) && b.status !== "en_route") return null;
  const latest = parse(b.pickup_latest);
  if (latest == null) return null;
  if (now > latest) return "late";
  return now > latest - 10 * 60000 ? "at_risk" : null;
}

// An `arrived` driver waits for its patient until `no_show_after`: minutes left (or over).
function waitLeft(b, now = Date.now()) {
  if (b.status !== "arrived" || !b.no_show_after) return null;
  const left = Math.round((parse(b.no_show_after) - now) / 60000);
  return left > 0 ? `waiting, no-show possible in ${left} min` : "waiting, no-show possible now";
}

const isWaiting = (b) => b.will_call && !b.released_at && NOT_STARTED.has(b.status);

function tripView(b) {
  const {start, end} = tripTimes(b);
  const late = lateness(b);
  const eta = b.eta_pickup ? ` · ETA ${zone.time(parse(b.eta_pickup))} (planned ${zone.time(parse(b.scheduled_at))})` : "";
  const wait = waitLeft(b);
  const title = `${zone.time(start)}–${zone.time(end)} ${clientName(b)} · ${b.pickup.address} → ` +
    `${b.dropoff.address} · ${b.status}${late ? ` · ${late.replace("_", " ")}` : ""}${eta}${wait ? ` · ${wait}` : ""}`;
  return {id: b.id, start, end, status: b.status, lateness: late, title, eta: Boolean(b.eta_pickup),
    label: `${b.eta_pickup ? "ETA " : ""}${zone.time(start)} ${clientName(b)}`};
}

function dayBookings() {
  return [...state.bookings.values()].filter((b) => b.status !== "cancelled");
}

// --- rendering (coalesced to one frame) -------------------------------------------------------
let frame = 0;
function redraw() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderAll(); });
}

function renderAll() {
  const trips = dayBookings();
  renderCounts();
  renderLists(trips);
  renderTimeline(trips);
  renderMap(trips);
  renderRun();
}

function renderCounts() {
  const counts = {};
  for (const b of state.bookings.values()) counts[b.status] = (counts[b.status] || 0) + 1;
  const order = ["pending", "assigned", "en_route", "arrived", "on_board", "completed", "no_show", "cancelled"];
  const parts = order.filter((s) => counts[s]).map((s) => `${counts[s]} ${s.replace("_", " ")}`);
  $("counts").textContent = `${zone.time(Date.now())} · ${state.bookings.size} trips: ${parts.join(", ") || "none"}`;
}

const tripLink = (b, extra = "") =>
  `<button type="button" class="link" data-open="${esc(b.id)}">${zone.time(tripTimes(b).start)} ` +
  `${esc(clientName(b))}</button>${extra}`;

function renderLists(trips) {
  const late = trips.filter((b) => ACTIVE.has(b.status) && lateness(b));
  $("late-n").textContent = late.length;
  $("late").innerHTML = late.map((b) => `<li class="${lateness(b)}"><span>${tripLink(b)}` +
    `<span class="why">${lateness(b).replace("_", " ")} · ${esc(driverName(state.drivers.get(driverOf(b))) || "unassigned")}</span></span></li>`).join("");
  const arrived = trips.filter((b) => b.status === "arrived");
  $("arrived-n").textContent = arrived.length;
  $("arrived").innerHTML = arrived.map((b) => `<li><span>${tripLink(b)}<span class="why">` +
    `${esc(driverName(state.drivers.get(driverOf(b))))} · ${esc(waitLeft(b) || "waiting")}</span></span></li>`).join("");
  const waiting = trips.filter(isWaiting);
  $("waiting-n").textContent = waiting.length;
  $("waiting").innerHTML = waiting.map((b) => `<li><span>${tripLink(b)}<span class="why">` +
    `${esc(b.pickup.address)}</span></span><button type="button" data-ready="${esc(b.id)}">Ready</button></li>`).join("");
  const open = trips.filter((b) => b.status === "pending" && !isWaiting(b));
  $("unassigned-n").textContent = open.length;
  $("unassigned").innerHTML = open.map((b) => {
    const why = state.unassignedWhy.get(b.id);
    const words = why ? why.detail || REASONS[why.reason] || why.reason : state.run ? "added after the last run" : "no run yet";
    return `<li><span>${tripLink(b)}<span class="why">${esc(words)}</span></span></li>`;
  }).join("");
}

// The local day after `d` ("YYYY-MM-DD"): calendar arithmetic, so DST does not matter.
function nextDay(d) {
  const [y, m, dd] = d.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, dd + 1)).toISOString().slice(0, 10);
}

function timelineRows(trips) {
  const rows = new Map();
  const row = (id) => {
    if (!rows.has(id)) {
      const d = state.drivers.get(id);
      rows.set(id, {id, name: d ? driverName(d) : "(unknown driver)", shifts: [], trips: []});
    }
    return rows.get(id);
  };
  // The shifts on during the day (a night shift of the evening before until it ends, one
  // starting tonight until midnight), drawn within the day.
  const [dayFrom, dayTo] = [zone.at(day, "00:00"), zone.at(nextDay(day), "00:00")];
  const clip = (a, b) => ({start: Math.max(a, dayFrom), end: Math.min(b, dayTo)});
  for (const s of state.shifts.values()) {
    const breaks = s.break_earliest && s.break_latest
      ? [clip(parse(s.break_earliest), parse(s.break_latest))].filter((b) => b.start < b.end) : [];
    row(s.driver).shifts.push({...clip(parse(s.start), parse(s.end)), breaks});
  }
  for (const b of trips) if (driverOf(b)) row(driverOf(b)).trips.push(tripView(b));
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function renderTimeline(trips) {
  const rows = timelineRows(trips);
  const unassigned = trips.filter((b) => b.status === "pending" && !driverOf(b) && !isWaiting(b)).map(tripView);
  const waiting = trips.filter(isWaiting).map(tripView);
  let from = zone.at(day, "06:00"), to = zone.at(day, "20:00");
  for (const r of rows) {
    for (const sh of r.shifts) { from = Math.min(from, sh.start); to = Math.max(to, sh.end); }
    for (const t of r.trips) { from = Math.min(from, t.start); to = Math.max(to, t.end); }
  }
  for (const t of [...unassigned, ...waiting]) { from = Math.min(from, t.start); to = Math.max(to, t.end); }
  timeline.render({from: from - 1800000, to: to + 1800000, now: Date.now(), zone, rows, unassigned, waiting});
}

function renderMap(trips) {
  if (!map.ok) return;
  const byDriver = new Map();
  const open = [];
  for (const b of trips) {
    if (!ACTIVE.has(b.status)) continue;
    const d = driverOf(b);
    const text = `${zone.time(tripTimes(b).start)} ${clientName(b)}`;
    if (!d) {
      open.push({booking: b.id, lat: b.pickup.lat, lon: b.pickup.lon, text, lateness: lateness(b)});
      continue;
    }
    if (!byDriver.has(d)) byDriver.set(d, []);
    const {start, end} = tripTimes(b);
    const late = lateness(b);
    if (b.status !== "on_board") {
      byDriver.get(d).push({at: start, booking: b.id, lat: b.pickup.lat, lon: b.pickup.lon, text: `pick-up ${text}`, lateness: late});
    }
    byDriver.get(d).push({at: end, booking: b.id, lat: b.dropoff.lat, lon: b.dropoff.lon, text: `drop-off ${text}`, lateness: late});
  }
  const ids = [...state.drivers.keys()];
  const routes = [...byDriver.entries()].map(([driver, stops]) => ({
    driver, colour: driverColour(Math.max(ids.indexOf(driver), 0)),
    stops: stops.sort((a, b) => a.at - b.at),
  }));
  map.drawTrips(routes, open);
}

function renderRun() {
  const run = state.run;
  $("run-state").textContent = run ? `${run.mode} · ${run.status}` : "none";
  if (!run) { $("run").innerHTML = "<p>No run for this day yet.</p>"; return; }
  const parts = [`<p>${esc(run.mode)} run ${esc(run.status)}${run.detail ? ` · ${esc(run.detail)}` : ""}` +
    `${run.progress != null && run.status === "running" ? ` (${Math.round(run.progress * 100)} %)` : ""}</p>`];
  if (run.routes && run.status === "succeeded") {
    parts.push(`<div class="run-diff">`);
    const name = (id) => driverName(state.drivers.get(id)) || "unassigned";
    const diff = run.diff || {};
    if (run.from_now) {
      // A re-plan from now: the server's diff (moved, pick-up changes, trips it drops).
      const moved = diff.moved || [], etas = (diff.eta_changes || []).filter((c) => c.change_seconds !== 0);
      const dropped = diff.unassigned || [];
      parts.push(`<p>Re-plan from ${run.planned_from ? zone.time(parse(run.planned_from)) : "now"}: ` +
        `${moved.length} moved, ${etas.length} pick-up time changes, ${dropped.length} newly unassigned.</p>`);
      const row = (id, ...cells) => {
        const b = state.bookings.get(id);
        return `<tr><td>${b ? tripLink(b) : "(trip)"}</td>${cells.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`;
      };
      const table = (caption, head, rows) => rows.length &&
        parts.push(`<table class="diff-${caption.split(" ")[0].toLowerCase()}"><caption>${caption}</caption><thead><tr><th>Trip</th>` +
          head.map((h) => `<th>${h}</th>`).join("") + `</tr></thead><tbody>${rows.slice(0, 50).join("")}</tbody></table>`);
      table("Moved", ["From", "To"], moved.map((m) => row(m.booking, name(m.from_driver), name(m.to_driver))));
      table("Pick-up changes", ["Before", "After", "Change"], etas.map((c) => row(c.booking,
        c.before ? zone.time(parse(c.before)) : "new", zone.time(parse(c.after)),
        c.change_seconds == null ? "" : `${c.change_seconds > 0 ? "+" : ""}${Math.round(c.change_seconds / 60)} min`)));
      table("Newly unassigned", ["Had"], dropped.map((d) => row(d.booking, name(d.driver))));
    } else {
      const changes = runChanges(run);
      parts.push(`<p>${changes.length} trips would change driver; ${(run.unassigned || []).length} left unassigned.</p>`);
      if (changes.length) {
        parts.push("<table><thead><tr><th>Trip</th><th>From</th><th>To</th></tr></thead><tbody>");
        for (const c of changes.slice(0, 50)) {
          parts.push(`<tr><td>${tripLink(c.booking)}</td><td>${esc(c.from)}</td><td>${esc(c.to)}</td></tr>`);
        }
        parts.push("</tbody></table>");
      }
    }
    if (!run.applied_at) parts.push(`<button type="button" class="primary" data-apply="${esc(run.id)}">Apply this run</button>`);
    else parts.push(`<p>Applied at ${zone.time(parse(run.applied_at))}.</p>`);
    parts.push("</div>");
  }
  $("run").innerHTML = parts.join("");
}

// Who each trip would go to under the suggested run, against who has it now.
function runChanges(run) {
  const changes = [];
  for (const route of run.routes || []) {
    for (const stop of route.stops) {
      if (stop.kind !== "pickup" || !stop.booking) continue;
      const b = state.bookings.get(stop.booking);
      if (!b || driverOf(b) === route.driver) continue;
      changes.push({booking: b, from: driverName(state.drivers.get(driverOf(b))) || "unassigned", to: route.driver_name});
    }
  }
  return changes;
}

function renderChat() {
  $("chat-n").textContent = state.chat.length ? `(${state.chat.length})` : "";
  $("chat").innerHTML = state.chat.map((m) => {
    const to = m.to_driver ? ` → ${esc(driverName(state.drivers.get(m.to_driver)) || "a driver")}` : "";
    return `<li><b>${esc(m.sender?.email || "?")}${to}</b> ${zone.time(parse(m.created_at))}: ${esc(m.text)}</li>`;
  }).join("");
  $("chat").scrollTop = 1e9;
}

// --- loading -------------------------------------------------------------------------------
async function loadRun() {
  const runs = await client.all(`/api/dispatch/runs?date=${day}&page_size=5`);
  state.unassignedWhy = new Map();
  state.run = runs[0] || null;
  if (state.run && state.run.status === "succeeded") {
    state.run = await client.get(`/api/dispatch/runs/${state.run.id}`);
    for (const u of state.run.unassigned || []) state.unassignedWhy.set(u.booking, u);
  }
}

async function loadAll() {
  const [company, bookings, drivers, shifts, reasons, chat] = await Promise.all([
    client.get("/api/companies/me"),
    client.all(`/api/bookings?date=${day}&page_size=500`),
    client.all("/api/drivers?page_size=500"),
    client.all(`/api/shifts?on=${day}&page_size=500`),
    client.get("/api/reason-codes?kind=cancellation&active=true"),
    client.get("/api/chat/messages?limit=50"),
    loadRun(),
  ]);
  state.company = company;
  state.bookings = new Map(bookings.map((b) => [b.id, b]));
  state.drivers = new Map(drivers.map((d) => [d.id, d]));
  state.shifts = new Map(shifts.map((s) => [s.id, s]));
  state.reasons = (Array.isArray(reasons) ? reasons : reasons.results || []).filter((r) => !r.system);
  state.chat = chat.results.slice().reverse();
  for (const d of state.drivers.values()) map.placeDriver(d, {name: driverName(d), initials: initials(d)});
  const to = $("chat-to");
  const picked = to.value;
  to.innerHTML = `<option value="">Team</option>` + [...state.drivers.values()]
    .sort((a, b) => driverName(a).localeCompare(driverName(b)))
    .map((d) => `<option value="${esc(d.id)}">${esc(driverName(d))}</option>`).join("");
  to.value = picked;
  renderChat();
  renderAll();
}

// Re-read some bookings (after socket events): one GET each, coalesced per frame.
const stale = new Set();
let staleTimer = 0;
function refresh(id) {
  stale.add(id);
  if (!staleTimer) staleTimer = setTimeout(flushStale, 100);
}
async function flushStale() {
  staleTimer = 0;
  const ids = [...stale];
  stale.clear();
  if (ids.length > 20) {  // a run applied, say: one list read beats many single ones
    try {
      const rows = await client.all(`/api/bookings?date=${day}&page_size=500`);
      state.bookings = new Map(rows.map((b) => [b.id, b]));
    } catch (err) { showError(err); }
    redraw();
    return;
  }
  await Promise.all(ids.map(async (id) => {
    try {
      const b = await client.get(`/api/bookings/${id}`);
      if (zone.day(parse(b.scheduled_at)) === day) state.bookings.set(id, b);
      else state.bookings.delete(id);
    } catch (err) {
      if (err.status === 404) state.bookings.delete(id);
    }
  }));
  redraw();
  if (openTrip && ids.includes(openTrip)) showTrip(openTrip, {keepError: true});
}

// --- live ----------------------------------------------------------------------------------
const handlers = {
  driver_position(e) {
    const d = state.drivers.get(e.driver_id);
    if (!d) return;
    const seq = window.board.positions.length;
    performance.mark(`pos-recv-${seq}`);
    Object.assign(d, {last_lat: e.lat, last_lon: e.lon, last_seen_at: e.recorded_at});
    map.placeDriver(d, {name: driverName(d), initials: initials(d)});
    requestAnimationFrame(() => {
      performance.mark(`pos-drawn-${seq}`);
      const m = performance.measure(`pos-${seq}`, `pos-recv-${seq}`, `pos-drawn-${seq}`);
      window.board.positions.push(m.duration);
    });
  },
  booking_updated(e) { refresh(e.booking.id); },
  booking_ready(e) {
    refresh(e.booking.id);
    flash(`Ready: ${e.booking.pickup_address} (pick up from ${zone.time(parse(e.pickup_earliest))})`, true);
  },
  chat_message(e) { state.chat.push(e.message); state.chat = state.chat.slice(-200); renderChat(); },
  async dispatch_run(e) {
    if (!state.run || state.run.id !== e.run_id) {
      state.run = {id: e.run_id, mode: "", status: e.status};
    }
    Object.assign(state.run, {status: e.status, progress: e.progress, detail: e.detail});
    if (e.status === "succeeded" || e.status === "failed") {
      await loadRun().catch(() => {});
      $("run-box").open = true;
      renderRun();
      $("run-box").scrollIntoView({block: "start"});  // its diff, to review before Apply
    }
    redraw();
  },
  // The live day (issue 12): one `eta_updated` per driver with all its stops left.
  eta_updated(e) {
    const seen = new Set();
    for (const s of e.stops || []) {
      const b = s.booking_id && state.bookings.get(s.booking_id);
      if (!b) continue;
      if (s.kind === "pickup") b.eta_pickup = s.eta;
      if (s.kind === "dropoff") b.eta_dropoff = s.eta;
      // A trip's lateness is its worst stop's (an on-board trip has only its drop-off left).
      const rank = (l) => ({late: 2, at_risk: 1}[l] || 0);
      if (!seen.has(b.id) || rank(s.lateness) > rank(b.lateness)) b.lateness = s.lateness || "on_time";
      seen.add(b.id);
      b.eta_computed_at = e.computed_at;
      b.eta_source = e.source;
    }
    redraw();
  },
  late_risk(e) {
    const b = e.booking && state.bookings.get(e.booking.id);
    if (!b) return;
    Object.assign(b, {lateness: e.lateness, ride_too_long: e.ride_too_long});
    if (e.eta_pickup) b.eta_pickup = e.eta_pickup;
    if (e.eta_dropoff) b.eta_dropoff = e.eta_dropoff;
    redraw();
  },
  insertion_proposed(e) {
    const id = e.booking?.id;
    if (!id) return;
    state.proposals.set(id, e.proposals || []);
    refresh(id);
    if (e.applied) flash(`New trip fitted in automatically (${e.proposals?.[0]?.driver_name || "a driver"}).`, true, id);
    else flash(`New trip: ${(e.proposals || []).length} way(s) to fit it in.`, true, id);
    if (openTrip === id) showProposals(id, e.proposals || []);
  },
};

function onEvent(e) {
  if (e.type === "error") flash(`Chat: ${e.detail}`);
  const handler = handlers[e.type];
  if (handler) handler(e);
}

function onState(kind, why, reconnected) {
  $("conn").textContent = kind === "live" ? "live" : `offline${why ? ` (${why})` : ""}`;
  $("conn").classList.toggle("live", kind === "live");
  if (reconnected) loadAll().catch(showError);  // events may have been missed meanwhile
}

// --- actions -------------------------------------------------------------------------------
function flash(text, ok = false, open = null) {
  const el = $("flash");
  el.hidden = false;
  el.className = ok ? "flash ok" : "flash";
  el.innerHTML = esc(text) + (open ? ` <button type="button" data-open="${esc(open)}">Open</button>` : "");
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { el.hidden = true; }, ok ? 6000 : 15000);
}
const showError = (err) => flash(err instanceof ApiError ? err.message : `Failed: ${err.message}`);

async function act(fn, where) {
  try {
    const result = await fn();
    return result ?? true;
  } catch (err) {
    if (where) { where.hidden = false; where.textContent = err.message; }
    else showError(err);
    return null;
  }
}

async function assign(id, driver) {
  const b = state.bookings.get(id);
  if (!b || driverOf(b) === driver) return null;
  const path = driver ? `/api/bookings/${id}/assign` : `/api/bookings/${id}/unassign`;
  const updated = await client.post(path, driver ? {driver} : {});
  state.bookings.set(id, updated);
  redraw();
  return updated;
}

let openTrip = null;
const dialog = $("trip");
dialog.addEventListener("close", () => { openTrip = null; });

function showTrip(id, {keepError = false} = {}) {
  const b = state.bookings.get(id);
  if (!b) return;
  openTrip = id;
  const {start, end} = tripTimes(b);
  const driver = state.drivers.get(driverOf(b));
  $("trip-title").textContent = `${zone.time(start)} ${clientName(b)}`;
  const rows = [
    ["Status", b.status + (lateness(b) ? ` (${lateness(b).replace("_", " ")})` : "")],
    ["Pick-up", `${zone.time(parse(b.scheduled_at))} (window ${zone.time(parse(b.pickup_earliest))}–${zone.time(parse(b.pickup_latest))}) ${b.pickup.address}`],
    ["Drop-off", `${b.appointment_at ? `by ${zone.time(parse(b.appointment_at))} ` : ""}${b.dropoff.address}`],
    ["Driver", driver ? driverName(driver) : "unassigned"],
    ["Mobility", `${b.mobility}, ${b.passengers} passenger(s)`],
  ];
  if (b.eta_pickup || b.eta_dropoff) {
    rows.push(["ETA", `${b.eta_pickup ? zone.time(parse(b.eta_pickup)) : "(on board)"} → ${zone.time(parse(b.eta_dropoff))}` +
      `${b.eta_computed_at ? ` (at ${zone.time(parse(b.eta_computed_at))}, ${b.eta_source || ""})` : ""}`]);
  }
  if (waitLeft(b)) rows.push(["Arrived", `${zone.time(parse(b.arrived_at))}; ${waitLeft(b)} (${zone.time(parse(b.no_show_after))})`]);
  if (b.will_call) rows.push(["Will-call", b.released_at ? `released ${zone.time(parse(b.released_at))}` : "waiting for the clinic"]);
  if (b.notes) rows.push(["Notes", b.notes]);
  if (end) rows.push(["Planned end", zone.time(end)]);
  $("trip-body").innerHTML = `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
  if (!keepError) $("trip-error").hidden = true;
  const actions = [];
  if (NOT_STARTED.has(b.status)) {
    const options = [...state.drivers.values()].filter((d) => d.active !== false)
      .sort((a, c) => driverName(a).localeCompare(driverName(c)))
      .map((d) => `<option value="${esc(d.id)}"${d.id === driverOf(b) ? " selected" : ""}>${esc(driverName(d))}</option>`);
    actions.push(`<fieldset><legend>Driver</legend><label for="pick-driver" class="sr">Driver</label>` +
      `<select id="pick-driver">${options.join("")}</select>` +
      `<button type="button" class="primary" data-act="assign">${driver ? "Reassign" : "Assign"}</button>` +
      (driver ? `<button type="button" data-act="unassign">Unassign</button>` : "") +
      `</fieldset>`);
    if (b.status === "pending" && !isWaiting(b)) actions.push(`<div id="insertions" class="insertions"></div>`);
    if (isWaiting(b)) actions.push(`<button type="button" data-act="ready">Patient ready</button>`);
    const codes = state.reasons.map((r) => `<option value="${esc(r.code)}">${esc(r.label)}</option>`);
    actions.push(`<fieldset><legend>Cancel</legend><label for="cancel-code" class="sr">Reason</label>` +
      `<select id="cancel-code">${codes.join("")}</select><label for="cancel-text" class="sr">Note</label>` +
      `<input id="cancel-text" maxlength="300" placeholder="Note (optional)">` +
      `<button type="button" class="danger" data-act="cancel">Cancel trip</button></fieldset>`);
  }
  $("trip-actions").innerHTML = actions.join("");
  if (!dialog.open) dialog.showModal();
  if (b.status === "pending" && !isWaiting(b) && zone.day(Date.now()) === day) {
    if (state.proposals.has(b.id)) showProposals(b.id, state.proposals.get(b.id));
    loadInsertions(b.id);
  }
}

// Where a pending trip of today fits in the drivers' current work (GET .../insertions, best
// first), each with a one-click Insert (POST .../insert); a 409 is shown in the dialog.
async function loadInsertions(id) {
  const box = $("insertions");
  if (box) box.innerHTML = "<p>Looking for a place to fit it in…</p>";
  try {
    const items = await client.get(`/api/bookings/${id}/insertions`);
    state.proposals.set(id, items);
    if (openTrip === id) showProposals(id, items);
  } catch (err) {  // 409: not a pending trip of today (another day, a will-call not released)
    if (openTrip === id && $("insertions")) $("insertions").innerHTML = `<p class="why">${esc(err.message)}</p>`;
  }
}

const mins = (s) => `${Math.round((s || 0) / 60)} min`;

function showProposals(id, items) {
  const box = $("insertions");
  if (!box) return;
  if (!items.length) { box.innerHTML = "<p class=\"why\">No driver can fit it in now.</p>"; return; }
  box.innerHTML = `<table class="proposals"><caption>Fit it in</caption><thead><tr><th>Driver</th><th>Stop</th>` +
    `<th>Pick-up</th><th>Extra driving</th><th>Lateness caused</th><th></th></tr></thead><tbody>` +
    items.map((p, i) => `<tr><td>${esc(p.driver_name || driverName(state.drivers.get(p.driver)))}</td>` +
      `<td>${p.position + 1}</td><td>${zone.time(parse(p.pickup_at))}</td><td>${mins(p.extra_drive_seconds)}</td>` +
      `<td>${p.lateness_caused_seconds ? mins(p.lateness_caused_seconds) : "none"}</td>` +
      `<td><button type="button" class="primary" data-insert="${i}">Insert</button></td></tr>`).join("") +
    "</tbody></table>";
  box.onclick = async (e) => {
    const i = e.target.dataset.insert;
    if (i == null) return;
    const p = items[Number(i)];
    const error = $("trip-error");
    error.hidden = true;
    e.target.disabled = true;
    const ok = await act(() => client.post(`/api/bookings/${id}/insert`, {driver: p.driver, position: p.position}), error);
    e.target.disabled = false;
    if (ok) {
      const b = await client.get(`/api/bookings/${id}`).catch(() => null);
      if (b) state.bookings.set(id, b);
      redraw();
      flash(`Fitted in: ${p.driver_name} at stop ${p.position + 1}.`, true);
      dialog.close();
    }
  };
}

$("trip-actions").addEventListener("click", async (e) => {
  const what = e.target.dataset.act;
  const id = openTrip;
  if (!what || !id) return;
  const error = $("trip-error");
  error.hidden = true;
  let ok = null;
  if (what === "assign") ok = await act(() => assign(id, $("pick-driver").value), error);
  else if (what === "unassign") ok = await act(() => assign(id, null), error);
  else if (what === "ready") ok = await act(() => release(id), error);
  else if (what === "cancel") {
    ok = await act(async () => {
      const b = await client.post(`/api/bookings/${id}/cancel`, {code: $("cancel-code").value, reason: $("cancel-text").value});
      state.bookings.set(id, b);
      redraw();
      return b;
    }, error);
  }
  if (ok) dialog.close();
});

async function release(id) {
  const b = await client.post(`/api/bookings/${id}/ready`, {in_minutes: 15});
  state.bookings.set(id, b);
  redraw();
  return b;
}

document.addEventListener("click", async (e) => {
  const t = e.target;
  if (t.dataset.open) return showTrip(t.dataset.open);
  if (t.dataset.ready) { t.disabled = true; await act(() => release(t.dataset.ready)); t.disabled = false; return; }
  if (t.dataset.apply) {
    const run = await act(() => client.post(`/api/dispatch/runs/${t.dataset.apply}/apply`));
    if (run && run !== true) { state.run = run; flash("Run applied.", true); await loadAll().catch(showError); }
  }
});

$("run-start").addEventListener("click", async () => {
  const today = zone.day(Date.now()) === day;
  const body = {date: day, mode: $("run-mode").value};
  if (today) body.from = "now";  // re-plan the rest of today (issue 12); ignored before it lands
  const run = await act(() => client.post("/api/dispatch/run", body));
  if (run && run !== true) {
    state.run = run;
    if (run.status === "succeeded") await loadRun().catch(() => {});
    $("run-box").open = true;
    redraw();
  }
});

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-text").value.trim();
  if (!text) return;
  const message = {type: "chat_message", id: String(Date.now()), text};
  if ($("chat-to").value) message.to_driver = $("chat-to").value;
  if (live.send(message)) $("chat-text").value = "";
  else flash("Not connected: the message was not sent.");
});

if (zone.day(Date.now()) === day) $("run-start").textContent = "Re-plan from now";

// A new trip: the client (home by default), a place or an address for each end, the pick-up
// time or the appointment in the company's zone; POST /api/bookings, each field's error in place.
const tripForm = $("new-trip");
$("new-trip-box").addEventListener("toggle", async () => {
  if (!$("new-trip-box").open || state.clients) return;
  const [clients, places] = await Promise.all([
    client.all("/api/clients?page_size=500"), client.all("/api/places?page_size=500"),
  ]).catch((err) => { showError(err); return [[], []]; });
  state.clients = clients;
  $("nt-client").innerHTML = clients.map((c) => `<option value="${esc(c.id)}">${esc(`${c.last_name} ${c.first_name}`)}</option>`).join("");
  $("nt-places").innerHTML = places.map((p) => `<option value="${esc(p.name)}"></option>`).join("");
  state.places = new Map(places.map((p) => [p.name, p.id]));
});
tripForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  for (const el of tripForm.querySelectorAll(".field-error")) el.remove();
  const v = (id) => $(id).value.trim();
  const body = {client: v("nt-client")};
  for (const [end, id] of [["pickup", "nt-from"], ["dropoff", "nt-to"]]) {
    const text = v(id);
    if (!text) continue;
    if (state.places?.has(text)) body[`${end}_place`] = state.places.get(text);
    else body[end] = {address: text};
  }
  if (v("nt-time")) body.scheduled_at = `${day}T${v("nt-time")}:00`;  // the company's zone: no offset
  if (v("nt-appt")) body.appointment_at = `${day}T${v("nt-appt")}:00`;
  const submit = tripForm.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const created = await client.post("/api/bookings", body);
    state.bookings.set(created.id, created);
    tripForm.reset();
    redraw();
    // Its `insertion_proposed` may have come first (proposals made as it committed): keep that.
    if (!state.proposals.has(created.id)) flash("Trip created.", true, created.id);
  } catch (err) {
    const where = {client: "nt-client", pickup: "nt-from", pickup_place: "nt-from", dropoff: "nt-to",
      dropoff_place: "nt-to", scheduled_at: "nt-time", appointment_at: "nt-appt", pickup_earliest: "nt-time",
      pickup_latest: "nt-time"};
    const fields = err.body && typeof err.body === "object" ? err.body : {};
    let shown = false;
    const say = (field, text) => {
      const el = $(where[field] || "nt-submit");
      el.insertAdjacentHTML("afterend", `<span class="field-error error" role="alert">${esc(text)}</span>`);
      shown = true;
    };
    if (err.field) say(err.field.split(".")[0], err.message);
    else for (const [k, val] of Object.entries(fields)) if (where[k]) say(k, [].concat(val).map((x) => typeof x === "object" ? Object.values(x).join(" ") : x).join(" "));
    if (!shown) say("", err.message);
  } finally { submit.disabled = false; }
});

// --- start ---------------------------------------------------------------------------------
const map = new BoardMap($("map"), {
  tiles: cfg.tiles, attribution: cfg.attribution, center: [46.52, 6.63],
  onTrip: showTrip, onDriver: (id) => map.select(id),
});
const timeline = new Timeline($("timeline"), {
  onTrip: showTrip,
  onDrop: (id, driver) => act(() => assign(id, driver)),
  onDriver: (id) => map.select(id),
});
const live = new Live(client, {onEvent, onState});
window.board.map = map;
window.board.live = live;

loadAll().then(() => {
  performance.mark("board-rendered");
  window.board.ready = true;
  root.dataset.ready = "1";
}, showError);
live.open();
setInterval(redraw, 60000);  // the "now" line and lateness move with the clock
