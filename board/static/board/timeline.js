// The timeline: one row per driver on shift (shift span and breaks shaded), each trip a bar
// from pick-up to drop-off (planned times, or ETAs once the live day sends them), a lane for
// unassigned trips and one for will-call returns waiting, and a "now" line. Drag a bar onto
// a driver's row to (re)assign it, onto the unassigned lane to unassign it.

const NAME_W = 150;
const LINE = 22;  // px per sub-line of a row
const MAX_LINES = 4;  // past that, bars overlap (the lists name every trip)
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class Timeline {
  constructor(el, {onTrip, onDrop, onDriver}) {
    this.el = el;
    el.addEventListener("click", (e) => {
      const bar = e.target.closest(".bar-trip");
      if (bar) return onTrip(bar.dataset.booking);
      const name = e.target.closest(".tl-row[data-driver] .tl-name");
      if (name) onDriver(name.parentElement.dataset.driver);
    });
    el.addEventListener("dragstart", (e) => {
      const bar = e.target.closest(".bar-trip");
      if (!bar) return;
      e.dataTransfer.setData("text/plain", bar.dataset.booking);
      e.dataTransfer.effectAllowed = "move";
    });
    const target = (e) => e.target.closest(".tl-row[data-driver], .tl-row[data-lane='unassigned']");
    el.addEventListener("dragover", (e) => {
      const row = target(e);
      if (!row) return;
      e.preventDefault();
      if (this.over !== row) {
        this.over?.classList.remove("drop");
        row.classList.add("drop");
        this.over = row;
      }
    });
    el.addEventListener("dragleave", (e) => {
      if (this.over && !this.over.contains(e.relatedTarget)) {
        this.over.classList.remove("drop");
        this.over = null;
      }
    });
    el.addEventListener("drop", (e) => {
      const row = target(e);
      this.over?.classList.remove("drop");
      this.over = null;
      if (!row) return;
      e.preventDefault();
      const booking = e.dataTransfer.getData("text/plain");
      if (booking) onDrop(booking, row.dataset.driver || null);
    });
  }

  // view: {from, to (ms), now, zone, rows: [{id, name, shifts: [{start, end, breaks}], trips}],
  //        unassigned: [trip], waiting: [trip]}; trip: {id, start, end, status, lateness, label}
  render(view) {
    const width = Math.max(900, this.el.parentElement.clientWidth - NAME_W - 4);
    const span = Math.max(view.to - view.from, 3600000);
    const x = (ms) => NAME_W + ((ms - view.from) / span) * width;
    const w = (a, b) => Math.max(((b - a) / span) * width, 6);
    const html = [`<div class="tl-head" style="width:${NAME_W + width}px">`];
    const step = span > 14 * 3600000 ? 2 * 3600000 : 3600000;
    for (let t = Math.ceil(view.from / 1800000) * 1800000; t <= view.to; t += 1800000) {
      if (view.zone.time(t).endsWith(":00") && (step === 3600000 || Number(view.zone.time(t).slice(0, 2)) % 2 === 0)) {
        html.push(`<span style="left:${x(t)}px">${view.zone.time(t)}</span>`);
      }
    }
    html.push("</div>");
    // Overlapping bars (a lane's trips, or a driver's shared rides) go on sub-lines.
    const pack = (trips) => {
      const ends = [];
      const sorted = [...trips].sort((a, b) => a.start - b.start);
      const placed = sorted.map((t) => {
        const right = x(t.start) + w(t.start, t.end);
        let line = ends.findIndex((end) => end <= x(t.start) + 1);
        if (line < 0 && ends.length < MAX_LINES) { line = ends.length; ends.push(0); }
        if (line < 0) line = ends.indexOf(Math.min(...ends));  // full: on the line freed first
        ends[line] = right;
        return {t, line};
      });
      return {placed, lines: Math.max(ends.length, 1)};
    };
    const bars = ({placed}) => placed.map(({t, line}) =>
      `<button type="button" draggable="true" class="bar-trip s-${esc(t.status)} ${esc(t.lateness || "")}" ` +
      `data-booking="${esc(t.id)}" style="left:${x(t.start)}px;width:${w(t.start, t.end)}px;top:${5 + line * LINE}px" ` +
      `title="${esc(t.title)}" aria-label="${esc(t.title)}">${esc(t.label)}</button>`).join("");
    const height = (packed) => `height:${10 + packed.lines * LINE}px`;
    const lane = (key, name, trips) => {
      const packed = pack(trips);
      return `<div class="tl-row lane" data-lane="${key}" style="width:${NAME_W + width}px;${height(packed)}">` +
        `<span class="tl-name">${esc(name)} (${trips.length})</span>${bars(packed)}</div>`;
    };
    html.push(lane("unassigned", "Unassigned", view.unassigned));
    html.push(lane("waiting", "Will-call waiting", view.waiting));
    for (const row of view.rows) {
      const packed = pack(row.trips);
      html.push(`<div class="tl-row" data-driver="${esc(row.id)}" style="width:${NAME_W + width}px;${height(packed)}">`);
      html.push(`<span class="tl-name" title="${esc(row.name)}">${esc(row.name)}</span>`);
      for (const shift of row.shifts) {
        html.push(`<div class="tl-shift" style="left:${x(shift.start)}px;width:${w(shift.start, shift.end)}px"></div>`);
        for (const b of shift.breaks) {
          html.push(`<div class="tl-break" title="break" style="left:${x(b.start)}px;width:${w(b.start, b.end)}px"></div>`);
        }
      }
      html.push(bars(packed), "</div>");
    }
    if (view.now >= view.from && view.now <= view.to) {
      html.push(`<div class="tl-now" title="now" style="left:${x(view.now)}px"></div>`);
    }
    this.el.style.width = `${NAME_W + width}px`;
    this.el.innerHTML = html.join("");
  }
}
