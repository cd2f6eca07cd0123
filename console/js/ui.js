// ui.js - small DOM helpers. Text goes in through textContent only (no
// innerHTML with data), so nothing from the bridge can become markup.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked') e.checked = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
export function status(msg, bad = false) {
  const s = document.getElementById('status');
  s.textContent = msg; s.className = bad ? 'error' : 'muted';
}
export function show(out, value) {
  out.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}
export function showError(out, err) {
  out.textContent = err && err.describe ? err.describe() : String(err && err.message || err);
  out.classList.add('error');
}
export async function copyText(text, button) {
  try { await navigator.clipboard.writeText(text); if (button) button.textContent = 'Copied'; }
  catch { if (button) button.textContent = 'Copy failed: select the text'; }
}
export function labelled(text, input) { return el('label', {}, text, input); }
export function tabs(names, onPick) {
  const bar = el('div', { class: 'tabs', role: 'tablist' });
  const buttons = names.map(n => el('button', { type: 'button', role: 'tab', 'data-tab': n,
    onclick: () => pick(n) }, n));
  function pick(n) {
    for (const b of buttons) b.classList.toggle('active', b.dataset.tab === n);
    onPick(n);
  }
  bar.append(...buttons);
  return { bar, pick };
}
// Seconds left until an RFC 3339 time or a deadline in ms.
export function fmtLeft(ms) {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + r + 's';
}
