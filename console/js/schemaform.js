// schemaform.js - a form generated from a JSON Schema object (an MCP tool's
// inputSchema, or an OpenAPI operation's body and parameters). Strings,
// numbers, integers, booleans and enums get their own inputs; arrays of
// scalars a comma-separated field; anything else a JSON textarea.
import { el } from './ui.js';

export function schemaForm(schema, idPrefix) {
  const props = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const fields = [];
  const root = el('div', { class: 'schemaform' });
  for (const [name, s] of Object.entries(props)) {
    const id = `${idPrefix}-${name}`;
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    let input;
    if (Array.isArray(s.enum)) {
      input = el('select', { id, name }, required.has(name) ? null : el('option', { value: '' }, ''),
        s.enum.map(v => el('option', { value: String(v) }, String(v))));
    } else if (type === 'boolean') {
      input = el('input', { id, name, type: 'checkbox' });
    } else if (type === 'integer' || type === 'number') {
      input = el('input', { id, name, type: 'number', step: type === 'integer' ? '1' : 'any' });
      if (s.minimum !== undefined) input.min = s.minimum;
      if (s.maximum !== undefined) input.max = s.maximum;
    } else if (type === 'string') {
      input = el('input', { id, name, type: 'text', spellcheck: 'false', autocomplete: 'off' });
      if (s.maxLength) input.maxLength = s.maxLength;
    } else if (type === 'array' && s.items && ['string', 'integer', 'number'].includes(s.items.type)) {
      input = el('input', { id, name, type: 'text', placeholder: 'comma-separated' });
    } else {
      input = el('textarea', { id, name, placeholder: 'JSON' });
    }
    input.dataset.kind = type || 'json';
    const label = el('label', { for: id }, name + (required.has(name) ? ' *' : ''),
      s.description ? el('span', { class: 'muted' }, ' - ' + s.description) : null);
    root.append(label, input);
    fields.push({ name, input, schema: s, type, required: required.has(name) });
  }
  function collect() {
    const out = {};
    for (const f of fields) {
      const v = f.input.value;
      if (f.type === 'boolean') { if (f.input.checked || f.required) out[f.name] = f.input.checked; continue; }
      if (v === '') { if (f.required && f.type === 'string') out[f.name] = ''; continue; }
      if (f.type === 'integer' || f.type === 'number') out[f.name] = Number(v);
      else if (f.type === 'string') out[f.name] = v;
      else if (f.type === 'array' && f.schema.items && f.schema.items.type !== 'object' && f.input.tagName === 'INPUT') {
        const parts = v.split(',').map(x => x.trim()).filter(Boolean);
        out[f.name] = f.schema.items.type === 'string' ? parts : parts.map(Number);
      } else {
        try { out[f.name] = JSON.parse(v); }
        catch { throw new Error(`${f.name}: not valid JSON`); }
      }
    }
    return out;
  }
  function set(name, value) {
    const f = fields.find(x => x.name === name);
    if (!f) return;
    if (f.type === 'boolean') f.input.checked = !!value;
    else f.input.value = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return { element: root, collect, set, fields };
}

// The operations of an OpenAPI document as {method, path, op, schema}:
// schema merges the path/query parameters and the JSON body's properties,
// so one generated form covers both.
export function openapiOps(doc, prefix) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths || {})) {
    if (!path.startsWith(prefix)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const schema = { type: 'object', properties: {}, required: [] };
      const where = {};
      for (const p of op.parameters || item.parameters || []) {
        const ps = p.$ref ? null : p;
        if (!ps) continue;
        schema.properties[ps.name] = { ...(ps.schema || {}), description: ps.description };
        if (ps.required) schema.required.push(ps.name);
        where[ps.name] = ps.in;
      }
      const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
      const bs = body && body.schema ? resolve(doc, body.schema) : null;
      if (bs && bs.properties) {
        for (const [n, s] of Object.entries(bs.properties)) { schema.properties[n] = resolve(doc, s); where[n] = 'body'; }
        for (const r of bs.required || []) schema.required.push(r);
      }
      out.push({ method: method.toUpperCase(), path, op, schema, where });
    }
  }
  return out;
}
function resolve(doc, s) {
  let cur = s, n = 0;
  while (cur && cur.$ref && n++ < 8) {
    const parts = cur.$ref.replace(/^#\//, '').split('/');
    cur = parts.reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return cur || {};
}

// Fills an OpenAPI path template and query from collected values; the rest
// is the body. Path values are encoded segment by segment ({path} may hold
// slashes, e.g. a secret path app/db).
export function buildRequest(entry, values) {
  let path = entry.path;
  const query = new URLSearchParams();
  const body = {};
  for (const [k, v] of Object.entries(values)) {
    const w = entry.where[k];
    if (w === 'path') {
      path = path.replace(`{${k}}`, String(v).split('/').map(encodeURIComponent).join('/'));
    } else if (w === 'query') query.set(k, String(v));
    else body[k] = v;
  }
  const qs = query.toString();
  const hasBody = !['GET', 'DELETE'].includes(entry.method);
  return { method: entry.method, url: path + (qs ? '?' + qs : ''), body: hasBody ? body : undefined };
}
