// obs.js - Observability: request rate, error rate and mean latency from
// /metrics (sampled every 5 s, drawn on canvas by this file), readiness
// from /readyz, and the admin log tail.
import { call } from './api.js';
import { el, clear, show, showError, status } from './ui.js';

let timer = null;
const HISTORY = 60;

// Prometheus text -> [{name, labels, value}] (comments skipped).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const p of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}
function totals(samples) {
  let req = 0, err = 0, sum = 0, count = 0;
  for (const s of samples) {
    if (s.name === 'http_requests_total') { req += s.value; if (/^5/.test(s.labels.status || '')) err += s.value; }
    else if (s.name === 'http_request_duration_seconds_sum') sum += s.value;
    else if (s.name === 'http_request_duration_seconds_count') count += s.value;
  }
  return { req, err, sum, count, t: Date.now() };
}

function draw(canvas, series, label, unit) {
  const w = canvas.width = canvas.clientWidth || 400, h = canvas.height = 160;
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, w, h);
  const max = Math.max(1e-9, ...series);
  g.strokeStyle = '#d7dbe2'; g.beginPath(); g.moveTo(40, 10); g.lineTo(40, h - 20); g.lineTo(w - 5, h - 20); g.stroke();
  g.fillStyle = '#1d2330'; g.font = '12px sans-serif';
  g.fillText(`${label}  (max ${max.toPrecision(3)} ${unit})`, 45, 12);
  const last = series.length ? series[series.length - 1] : 0;
  g.fillText(`now ${last.toPrecision(3)} ${unit}`, 45, h - 5);
  g.strokeStyle = '#1f5fbf'; g.lineWidth = 2; g.beginPath();
  series.forEach((v, i) => {
    const x = 40 + (i / Math.max(1, HISTORY - 1)) * (w - 45);
    const y = (h - 20) - (v / max) * (h - 35);
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
}

export async function render(root) {
  if (timer) clearInterval(timer);
  const c1 = el('canvas', { class: 'chart', id: 'chart-rate' });
  const c2 = el('canvas', { class: 'chart', id: 'chart-errors' });
  const c3 = el('canvas', { class: 'chart', id: 'chart-latency' });
  const ready = el('pre', { class: 'out', id: 'obs-ready' });
  const stream = el('select', { id: 'obs-stream' }, ['requests', 'responses', 'server'].map(s => el('option', { value: s }, s)));
  const logs = el('pre', { class: 'out', id: 'obs-logs' });
  root.append(el('h2', {}, 'Observability'),
    el('div', { class: 'charts card' }, c1, c2, c3),
    el('div', { class: 'card' }, el('h3', {}, 'Readiness (/readyz)'), ready),
    el('div', { class: 'card' }, el('h3', {}, 'Log tail (admin)'),
      el('div', { class: 'row' }, stream, el('button', { type: 'button', id: 'obs-tail', onclick: tail }, 'Tail 100 lines')), logs));
  const rate = [], errs = [], lat = [];
  let prev = null;
  async function sample() {
    try {
      const text = await call('GET', '/metrics', null, { headers: { Accept: 'text/plain' } });
      const cur = totals(parseMetrics(String(text)));
      if (prev) {
        const dt = Math.max(0.001, (cur.t - prev.t) / 1000);
        const dn = cur.req - prev.req, dc = cur.count - prev.count;
        rate.push(dn / dt); errs.push(dn > 0 ? 100 * (cur.err - prev.err) / dn : 0);
        lat.push(dc > 0 ? 1000 * (cur.sum - prev.sum) / dc : 0);
        for (const a of [rate, errs, lat]) while (a.length > HISTORY) a.shift();
      }
      prev = cur;
      draw(c1, rate, 'requests', '/s'); draw(c2, errs, '5xx', '%'); draw(c3, lat, 'mean latency', 'ms');
    } catch (e) { status('metrics: ' + (e.message || e), true); }
    try {
      const r = await fetch('/readyz', { cache: 'no-store', credentials: 'omit' });
      show(ready, `${r.status} ${await r.text()}`);
    } catch (e) { showError(ready, e); }
  }
  async function tail() {
    logs.classList.remove('error');
    try {
      const r = await call('GET', `/observability/logs/${stream.value}?lines=100`);
      show(logs, (r.lines || []).map(l => typeof l === 'string' ? l : JSON.stringify(l)).join('\n') || r);
    } catch (e) { showError(logs, e); }
  }
  await sample();
  timer = setInterval(() => { if (!document.getElementById('chart-rate')) { clearInterval(timer); return; } sample(); }, 5000);
  status('observability');
}
