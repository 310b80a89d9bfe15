// plot.js - a live canvas plot of one stream: a ring buffer of samples drawn once per animation
// frame (no DOM per sample), with pause, a time window (buttons, wheel, pinch) and CSV export.

const CAPACITY = 100 * 600; // 10 minutes at 100 Hz

export class Plot {
  // A plot of the stream described by s ({topic, quantity, unit}) drawn in canvas.
  constructor(canvas, s) {
    this.canvas = canvas;
    this.topic = s.topic;
    this.label = `${s.quantity ?? s.name ?? ""} (${s.unit ?? ""})`;
    this.unit = s.unit ?? "";
    this.t = new Float64Array(CAPACITY); // seconds since 1970
    this.v = new Float64Array(CAPACITY);
    this.head = 0; // next slot
    this.n = 0;
    this.windowS = 10;
    this.paused = false;
    this.frozenEnd = 0;
    this.dirty = true;
    this.drawn = 0; // frames drawn, for tests and measurements
    this.pointers = new Map();
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(e.deltaY > 0 ? 1.25 : 0.8);
    });
    canvas.addEventListener("pointerdown", (e) => this.pointers.set(e.pointerId, e.clientX));
    const up = (e) => {
      this.pointers.delete(e.pointerId);
      this.pinch = 0;
    };
    canvas.addEventListener("pointerup", up);
    canvas.addEventListener("pointercancel", up);
    canvas.addEventListener("pointermove", (e) => {
      if (!this.pointers.has(e.pointerId)) return;
      this.pointers.set(e.pointerId, e.clientX);
      if (this.pointers.size !== 2) return;
      const [a, b] = [...this.pointers.values()];
      const d = Math.abs(a - b);
      if (this.pinch > 0 && d > 0) this.zoom(this.pinch / d);
      this.pinch = d;
    });
  }

  // Add the samples of one stream message (its header and values); ignores non-numeric ones.
  push(header, values) {
    if (!Array.isArray(values)) return;
    const t0 = header.t_host / 1e9;
    const dt = header.rate > 0 ? 1 / header.rate : 0;
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      this.t[this.head] = t0 + i * dt;
      this.v[this.head] = typeof x === "number" ? x : NaN;
      this.head = (this.head + 1) % CAPACITY;
      if (this.n < CAPACITY) this.n++;
    }
    this.dirty = true;
  }

  // Multiply the time window by f, within 1 s .. 10 min.
  zoom(f) {
    this.setWindow(this.windowS * f);
  }

  // Show the last s seconds (1 s .. 10 min).
  setWindow(s) {
    this.windowS = Math.min(600, Math.max(1, s));
    this.dirty = true;
  }

  // Freeze (true) or follow (false) the live data; samples keep being buffered meanwhile.
  setPaused(p) {
    this.paused = p;
    this.frozenEnd = this.n ? this.t[(this.head - 1 + CAPACITY) % CAPACITY] : 0;
    this.dirty = true;
  }

  // Draw if something changed since the last frame (called from requestAnimationFrame).
  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const g = c.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, w, h);
    const font = Math.round(16 * dpr);
    g.font = `${font}px sans-serif`;
    g.fillStyle = "#222";
    g.fillText(this.label, 8 * dpr, font + 4 * dpr);
    if (!this.n) return;
    const end = this.paused ? this.frozenEnd : this.t[(this.head - 1 + CAPACITY) % CAPACITY];
    const start = end - this.windowS;
    let lo = Infinity;
    let hi = -Infinity;
    const first = (this.head - this.n + CAPACITY) % CAPACITY;
    for (let k = 0; k < this.n; k++) {
      const i = (first + k) % CAPACITY;
      if (this.t[i] < start || this.t[i] > end || !Number.isFinite(this.v[i])) continue;
      if (this.v[i] < lo) lo = this.v[i];
      if (this.v[i] > hi) hi = this.v[i];
    }
    if (lo === Infinity) return;
    if (hi - lo < 1e-9) {
      hi += 0.5;
      lo -= 0.5;
    }
    const top = font * 2;
    const left = font * 4;
    const ph = h - top - font * 1.5;
    const pw = w - left - 8 * dpr;
    g.strokeStyle = "#bbb";
    g.lineWidth = dpr;
    g.strokeRect(left, top, pw, ph);
    g.fillStyle = "#222";
    g.fillText(fmt(hi), 4 * dpr, top + font);
    g.fillText(fmt(lo), 4 * dpr, top + ph);
    g.fillText(`-${fmt(this.windowS)} s`, left, h - 4 * dpr);
    g.strokeStyle = "#0b5cad";
    g.lineWidth = 2 * dpr;
    g.beginPath();
    let pen = false;
    for (let k = 0; k < this.n; k++) {
      const i = (first + k) % CAPACITY;
      if (this.t[i] < start || this.t[i] > end) continue;
      if (!Number.isFinite(this.v[i])) {
        pen = false;
        continue;
      }
      const x = left + ((this.t[i] - start) / this.windowS) * pw;
      const y = top + ph - ((this.v[i] - lo) / (hi - lo)) * ph;
      if (pen) g.lineTo(x, y);
      else g.moveTo(x, y);
      pen = true;
    }
    g.stroke();
    this.drawn++;
  }

  // The buffered samples as CSV text: French (";" and a decimal comma) or not.
  csv(french) {
    const sep = french ? ";" : ",";
    const num = (x) => (french ? String(x).replace(".", ",") : String(x));
    const rows = [`t (s)${sep}time (UTC)${sep}${this.label}`];
    const first = (this.head - this.n + CAPACITY) % CAPACITY;
    const t0 = this.n ? this.t[first] : 0;
    for (let k = 0; k < this.n; k++) {
      const i = (first + k) % CAPACITY;
      const iso = new Date(this.t[i] * 1000).toISOString();
      rows.push(`${num((this.t[i] - t0).toFixed(3))}${sep}${iso}${sep}${num(this.v[i])}`);
    }
    return rows.join("\r\n") + "\r\n";
  }
}

function fmt(x) {
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}
