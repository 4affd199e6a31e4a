// Times in the company's zone, whatever the browser's: formatting and wall-clock → instant.

export class Zone {
  constructor(name) {
    this.name = name;
    this.hm = new Intl.DateTimeFormat("en-GB", {timeZone: name, hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
    this.parts = new Intl.DateTimeFormat("en-US", {
      timeZone: name, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  time(ms) { return ms == null || Number.isNaN(ms) ? "–" : this.hm.format(ms); }

  // The zone's offset from UTC at instant `ms`, in milliseconds.
  offset(ms) {
    const p = {};
    for (const {type, value} of this.parts.formatToParts(ms)) p[type] = Number(value);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  }

  // The local day (YYYY-MM-DD) of instant `ms`.
  day(ms) {
    const p = {};
    for (const {type, value} of this.parts.formatToParts(ms)) p[type] = value;
    return `${p.year}-${p.month}-${p.day}`;
  }

  // The instant of wall-clock `hhmm` ("HH:MM[:SS]") on local `day` ("YYYY-MM-DD").
  at(day, hhmm) {
    const [y, m, d] = day.split("-").map(Number);
    const [h, mi, s] = hhmm.split(":").map(Number);
    const naive = Date.UTC(y, m - 1, d, h, mi, s || 0);
    let guess = naive - this.offset(naive);
    guess = naive - this.offset(guess);  // twice: right across a DST change
    return guess;
  }
}

export const parse = (iso) => (iso ? Date.parse(iso) : null);
