// agents.js - Agent profiles: the `profile` object of registry records
// (llm_enabled, linked_credential, tasks, secrets_backend, status), edited
// with PATCH /admin/subjects/{subject}; recent activity from the admin log
// tail (requests.log lines naming the subject) and MCP tool metrics.
import { call } from './api.js';
import { el, clear, status } from './ui.js';

export async function render(root) {
  const msg = el('p', { id: 'agents-msg', role: 'alert' });
  const list = el('div', { id: 'agents-list' });
  root.append(el('div', { class: 'card' }, el('h2', {}, 'Agent profiles'),
    el('p', { class: 'muted' }, 'A profile lives in the subject\'s registry record. New agent: create a subject on the Subjects page, then edit its profile here.'),
    msg, list));
  let logs = [];
  try {
    const t = await call('GET', '/observability/logs/requests?lines=500');
    logs = (t.lines || []).map(l => { try { return typeof l === 'string' ? JSON.parse(l) : l; } catch { return null; } }).filter(Boolean);
  } catch { /* the log tail is optional for this page */ }
  let data;
  try { data = await call('GET', '/admin/subjects'); }
  catch (e) { msg.textContent = e.describe ? e.describe() : String(e); msg.className = 'error'; return; }
  for (const r of data.subjects || []) list.append(card(r));

  function card(r) {
    const p = r.profile || {};
    const llm = el('input', { type: 'checkbox', id: `ag-${r.subject}-llm`, checked: !!p.llm_enabled });
    const backend = el('select', { id: `ag-${r.subject}-backend` }, ['vault', 'kms', 'hybrid'].map(v =>
      el('option', { value: v }, v)));
    backend.value = p.secrets_backend || 'vault';
    const linked = el('select', { id: `ag-${r.subject}-linked` }, el('option', { value: '' }, '(none)'),
      (r.api_keys || []).map(k => el('option', { value: 'api_key:' + k.key_id }, 'API key ' + k.key_id)),
      el('option', { value: 'jwt' }, 'JWT' + (r.jwt_expires_at ? ' (expires ' + r.jwt_expires_at + ')' : '')));
    linked.value = p.linked_credential || '';
    const tasks = el('textarea', { id: `ag-${r.subject}-tasks`, placeholder: 'one task per line' });
    tasks.value = (p.tasks || []).join('\n');
    const st = el('input', { type: 'text', id: `ag-${r.subject}-status`, value: p.status || '', maxlength: 1024 });
    const out = el('span', { class: 'muted' });
    const mine = logs.filter(l => l.subject === r.subject).slice(-8);
    return el('div', { class: 'card', 'data-agent': r.subject },
      el('h3', {}, r.subject, ' ', el('span', { class: 'badge ' + (r.enabled ? 'on' : 'off') }, r.enabled ? 'enabled' : 'disabled')),
      el('label', { class: 'inline' }, llm, ' LLM use'),
      el('label', {}, 'Secrets backend', backend), el('label', {}, 'Linked credential', linked),
      el('label', {}, 'Tasks', tasks), el('label', {}, 'Status', st),
      el('button', { type: 'button', onclick: async () => {
        const profile = { llm_enabled: llm.checked, secrets_backend: backend.value,
          tasks: tasks.value.split('\n').map(s => s.trim()).filter(Boolean), status: st.value,
          linked_credential: linked.value || null };
        try { await call('PATCH', '/admin/subjects/' + encodeURIComponent(r.subject), { profile });
              out.textContent = 'saved'; out.className = 'ok'; }
        catch (e) { out.textContent = e.describe ? e.describe() : String(e); out.className = 'error'; }
      } }, 'Save profile'), out,
      el('h3', {}, 'Recent activity'),
      mine.length ? el('ul', {}, mine.map(l => el('li', {}, `${l.time || l.ts || ''} ${l.method || ''} ${l.route || l.path || ''} ${l.status || ''}`)))
                  : el('p', { class: 'muted' }, 'no request in the last log lines'));
  }
  status('agents');
}
