// opforms.js - one generated form per REST operation of the live
// /openapi.json under a path prefix (Transit, Database, SSH, KMS), so the
// console follows the operation table without a copy of its arguments.
import { call, openapi } from './api.js';
import { el, clear, show, showError } from './ui.js';
import { schemaForm, openapiOps, buildRequest } from './schemaform.js';

// renderOps(box, prefix, {extra(entry) -> {fields, apply(body)}, onResult(entry, result)})
export async function renderOps(box, prefix, hooks = {}) {
  let doc;
  try { doc = await openapi(); } catch (e) { box.append(el('p', { class: 'error' }, 'openapi.json: ' + (e.message || e))); return; }
  const ops = openapiOps(doc, prefix);
  const picker = el('select', { id: 'op-picker-' + prefix.replace(/\W/g, '') },
    ops.map((o, i) => el('option', { value: String(i) }, `${o.op.summary || o.op.operationId || ''} - ${o.method} ${o.path}`)));
  const formBox = el('div');
  const out = el('pre', { class: 'out', id: 'op-out-' + prefix.replace(/\W/g, '') });
  box.append(el('label', {}, 'Operation', picker), formBox, out);
  function build() {
    clear(formBox);
    const entry = ops[Number(picker.value)];
    if (!entry) return;
    const id = (entry.op.operationId || entry.path).replace(/\W/g, '_');
    const sf = schemaForm(entry.schema, 'f-' + id);
    const extra = hooks.extra ? hooks.extra(entry) : null;
    const form = el('form', { id: 'form-' + id }, entry.op.description ? el('p', { class: 'muted' }, entry.op.description) : null,
      sf.element, extra ? extra.fields : null, el('button', { type: 'submit' }, `${entry.method} ${entry.path}`));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      out.classList.remove('error');
      try {
        const req = buildRequest(entry, sf.collect());
        const headers = extra && extra.headers ? extra.headers() : undefined;
        const r = await call(req.method, req.url, req.body, { headers });
        show(out, r);
        if (hooks.onResult) hooks.onResult(entry, r);
      } catch (e) { showError(out, e); }
    });
    formBox.append(form);
  }
  picker.addEventListener('change', build);
  build();
  return { pick(pathSuffix) {
    const i = ops.findIndex(o => o.path === pathSuffix);
    if (i >= 0) { picker.value = String(i); build(); }
  } };
}
