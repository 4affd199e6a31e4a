// The board's only ways in: the public API (/api/...) and the company socket (/ws/company/),
// both with a short-lived access token the admin session buys at /board/token.

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || firstFieldError(body))) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.code = (body && body.code) || String(status);
    this.field = body && body.field;
    this.body = body;
  }
}

function firstFieldError(body) {
  for (const [key, value] of Object.entries(body || {})) {
    const text = Array.isArray(value) ? value.join(" ") : typeof value === "string" ? value : "";
    if (text) return `${key}: ${text}`;
  }
  return "";
}

export class Client {
  constructor({tokenUrl, csrf, company}) {
    this.tokenUrl = tokenUrl;
    this.csrf = csrf;
    this.company = company;
    this.token = null;
    this.expires = 0;
    this.pending = null;
  }

  async accessToken(force = false) {
    if (!force && this.token && Date.now() < this.expires - 60000) return this.token;
    if (!this.pending) {
      const body = new URLSearchParams({company: this.company});
      this.pending = fetch(this.tokenUrl, {
        method: "POST", body, credentials: "same-origin",
        headers: {"X-CSRFToken": this.csrf},
      }).then(async (r) => {
        const data = await r.json().catch(() => ({}));
        if (!r.ok) throw new ApiError(r.status, data);
        this.token = data.access;
        this.expires = Date.parse(data.expires_at);
        return this.token;
      }).finally(() => { this.pending = null; });
    }
    return this.pending;
  }

  async request(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken(attempt > 0);
      const init = {method, headers: {Authorization: `Bearer ${token}`, Accept: "application/json"}};
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const r = await fetch(path, init);
      if (r.status === 401 && attempt === 0) continue;  // expired meanwhile: a new token, once
      const data = r.status === 204 ? null : await r.json().catch(() => null);
      if (!r.ok) throw new ApiError(r.status, data);
      return data;
    }
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body === undefined ? {} : body); }

  // Every page of a list (`results` + `next`), or the list itself when it is not paged.
  async all(path) {
    let data = await this.get(path);
    if (Array.isArray(data)) return data;
    const rows = [...data.results];
    while (data.next) {
      const next = new URL(data.next, location.origin);
      data = await this.get(next.pathname + next.search);
      rows.push(...data.results);
    }
    return rows;
  }
}

// The company socket; reconnects with backoff (a fresh token each time) and says so.
export class Live {
  constructor(client, {onEvent, onState}) {
    this.client = client;
    this.onEvent = onEvent;
    this.onState = onState;
    this.ws = null;
    this.delay = 1000;
    this.stopped = false;
    this.connects = 0;
  }

  async open() {
    if (this.stopped) return;
    let token;
    try {
      token = await this.client.accessToken(this.connects > 0);
    } catch (err) {
      this.onState("offline", err.message);
      return this.retry();
    }
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/company/`;
    // The token travels as a subprotocol, not in the URL (which access logs keep).
    const ws = new WebSocket(url, ["atmr.bearer", token]);
    this.ws = ws;
    ws.onmessage = (m) => {
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      if (event.type === "hello") {
        this.delay = 1000;
        this.connects += 1;
        this.onState("live", "", this.connects > 1);
      }
      this.onEvent(event);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onState("offline", e.code === 4401 ? "token expired" : `closed ${e.code}`);
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    setTimeout(() => this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}
