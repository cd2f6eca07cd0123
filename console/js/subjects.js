// subjects.js - Subjects & keys: the registry grid and its admin actions
// (docs/registry.md section 5). A new API key or JWT is shown once, in
// this page only, and never kept anywhere.
import { call, authHeaders } from './api.js';
import { el, clear, status, copyText } from './ui.js';

const SCOPES = ['read', 'write', 'delete', 'list', 'admin'];
const GRANTS = ['transit_keys', 'db_roles', 'ssh_roles', 'kms_keys'];
const list = v => (Array.isArray(v) ? v : []).join(' ');
const words = s => s.split(/[\s,]+/).filter(Boolean);

export async function render(root) {
  const out = el('p', { id: 'subjects-msg', role: 'alert' });
  const secret = el('div', { id: 'subjects-secret' });
  const gridBox = el('div', { id: 'subjects-grid' });
  const editor = el('div', { id: 'subjects-editor' });
  root.append(
    el('div', { class: 'card' },
      el('div', { class: 'row' }, el('h2', {}, 'Subjects & keys'),
        el('button', { type: 'button', id: 'subjects-new', onclick: () => openEditor(null) }, 'New subject'),
        el('button', { type: 'button', class: 'secondary', id: 'subjects-refresh', onclick: load }, 'Refresh'),
        el('button', { type: 'button', class: 'secondary', id: 'subjects-csv', onclick: exportCsv }, 'Export CSV')),
      out, secret, gridBox),
    editor);

  function msg(text, bad) { out.textContent = text; out.className = bad ? 'error' : 'ok'; }
  function fail(e) { msg(e.describe ? e.describe() : String(e.message || e), true); }

  function showSecret(title, value) {
    clear(secret);
    const copy = el('button', { type: 'button', class: 'secondary', id: 'secret-copy',
      onclick: () => copyText(value, copy) }, 'Copy');
    secret.append(el('div', { class: 'card' }, el('h3', {}, title),
      el('p', { class: 'muted' }, 'Shown once: copy it now. The console does not keep it.'),
      el('div', { class: 'secretbox', id: 'secret-value' }, value), copy,
      el('button', { type: 'button', class: 'secondary', onclick: () => clear(secret) }, 'Hide')));
  }

  async function load() {
    let data;
    try { data = await call('GET', '/admin/subjects'); } catch (e) { fail(e); return; }
    clear(gridBox);
    const head = ['Subject', 'Status', 'Created', 'JWT expires', 'TTL s', 'Scopes', 'Grants', 'Keys', ''];
    const table = el('table', { id: 'subjects-table' }, el('thead', {}, el('tr', {}, head.map(h => el('th', {}, h)))));
    const body = el('tbody');
    for (const r of data.subjects || []) body.append(row(r));
    table.append(body);
    gridBox.append(table, el('p', { class: 'muted' }, `${data.count ?? (data.subjects || []).length} subject(s)`));
  }

  function row(r) {
    const keys = r.api_keys || [];
    const grants = GRANTS.map(g => (r.grants && r.grants[g] && r.grants[g].length) ? `${g}: ${list(r.grants[g])}` : null)
      .filter(Boolean).join('; ');
    const expired = r.expires_at && Date.parse(r.expires_at) < Date.now();
    const state = !r.enabled ? 'disabled' : expired ? 'expired' : 'enabled';
    return el('tr', { 'data-subject': r.subject },
      el('td', {}, r.subject, r.description ? el('div', { class: 'muted' }, r.description) : null),
      el('td', {}, el('span', { class: 'badge ' + (state === 'enabled' ? 'on' : 'off') }, state)),
      el('td', {}, r.created_at || ''),
      el('td', {}, r.jwt_expires_at || '-'),
      el('td', {}, r.jwt_ttl_seconds ?? '-'),
      el('td', {}, list(r.scopes)),
      el('td', {}, grants || '-'),
      el('td', { class: 'keycount' }, String(keys.length)),
      el('td', {}, el('button', { type: 'button', class: 'secondary', 'data-action': 'open',
        onclick: () => openEditor(r.subject) }, 'Open')));
  }

  async function exportCsv() {
    try {
      const res = await fetch('/admin/subjects.csv', { headers: authHeaders(), credentials: 'omit', cache: 'no-store' });
      if (!res.ok) throw new Error(`CSV export: HTTP ${res.status}`);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: 'subjects.csv', id: 'subjects-csv-link' }, 'subjects.csv');
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      msg(`CSV exported (${blob.size} bytes)`);
    } catch (e) { fail(e); }
  }

  async function openEditor(name) {
    clear(editor);
    let r = null;
    if (name) { try { r = await call('GET', '/admin/subjects/' + encodeURIComponent(name)); } catch (e) { fail(e); return; } }
    const f = {
      subject: el('input', { type: 'text', id: 'ed-subject', value: r ? r.subject : '', disabled: !!r, maxlength: 128 }),
      description: el('input', { type: 'text', id: 'ed-description', value: r ? r.description || '' : '', maxlength: 512 }),
      enabled: el('input', { type: 'checkbox', id: 'ed-enabled', checked: r ? r.enabled : true }),
      expires_at: el('input', { type: 'text', id: 'ed-expires', placeholder: '2027-01-31T00:00:00Z or empty', value: r ? r.expires_at || '' : '' }),
    };
    const scopeBoxes = SCOPES.map(s => el('input', { type: 'checkbox', id: 'ed-scope-' + s, value: s,
      checked: r ? (r.scopes || []).includes(s) : s !== 'admin' }));
    const grantInputs = Object.fromEntries(GRANTS.map(g => [g, el('input', { type: 'text', id: 'ed-' + g,
      placeholder: 'names separated by spaces, or *', value: r ? list(r.grants && r.grants[g]) : '' })]));
    const form = el('form', { class: 'card', id: 'subject-form' },
      el('h2', {}, r ? `Subject ${r.subject} (version ${r.version})` : 'New subject'),
      el('label', {}, 'Subject', f.subject), el('label', {}, 'Description', f.description),
      el('label', { class: 'inline' }, f.enabled, ' enabled'),
      el('label', {}, 'Expires at (RFC 3339 UTC)', f.expires_at),
      el('div', {}, 'Scopes: ', scopeBoxes.map(b => el('label', { class: 'inline' }, b, ' ' + b.value))),
      GRANTS.map(g => el('label', {}, g, grantInputs[g])),
      el('button', { type: 'submit', id: 'ed-save' }, r ? 'Save changes' : 'Create'));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const body = {
        description: f.description.value, enabled: f.enabled.checked,
        scopes: scopeBoxes.filter(b => b.checked).map(b => b.value),
        grants: Object.fromEntries(GRANTS.map(g => [g, words(grantInputs[g].value)])),
      };
      for (const g of GRANTS) if (body.grants[g].length === 1 && body.grants[g][0] === '*') body.grants[g] = '*';
      try {
        if (r) {
          body.expires_at = f.expires_at.value.trim();
          body.version = r.version;
          await call('PATCH', '/admin/subjects/' + encodeURIComponent(r.subject), body);
          msg(`saved ${r.subject}`);
        } else {
          body.subject = f.subject.value.trim();
          if (f.expires_at.value.trim()) body.expires_at = f.expires_at.value.trim();
          await call('POST', '/admin/subjects', body);
          msg(`created ${body.subject}`);
        }
        await load();
        await openEditor(r ? r.subject : body.subject);
      } catch (e) { fail(e); }
    });
    editor.append(form);
    if (!r) return;

    // Keys, JWT, enable/disable, delete.
    const keyTable = el('table', { id: 'keys-table' }, el('thead', {}, el('tr', {}, ['Key id', 'Created', 'Last 4', ''].map(h => el('th', {}, h)))),
      el('tbody', {}, (r.api_keys || []).map(k => el('tr', { 'data-key-id': k.key_id },
        el('td', {}, k.key_id), el('td', {}, k.created), el('td', {}, '…' + k.last4),
        el('td', {}, el('button', { type: 'button', class: 'danger', 'data-action': 'revoke', onclick: async () => {
          if (!confirm(`Revoke key ${k.key_id} of ${r.subject}?`)) return;
          try { await call('DELETE', `/admin/subjects/${encodeURIComponent(r.subject)}/api-keys/${encodeURIComponent(k.key_id)}`);
                msg(`revoked ${k.key_id}`); await load(); await openEditor(r.subject); } catch (e) { fail(e); }
        } }, 'Revoke'))))));
    const ttl = el('input', { type: 'number', id: 'jwt-ttl', value: '3600', min: 60, max: 2592000 });
    const jwtScopes = el('input', { type: 'text', id: 'jwt-scopes', placeholder: 'default: all of the subject\'s' });
    editor.append(el('div', { class: 'card', id: 'subject-actions' },
      el('h3', {}, 'API keys'), keyTable,
      el('button', { type: 'button', id: 'key-add', onclick: async () => {
        try {
          const a = await call('POST', `/admin/subjects/${encodeURIComponent(r.subject)}/api-keys`);
          await load(); await openEditor(r.subject);
          showSecret(`New API key ${a.key_id} for ${r.subject}`, a.api_key);
        } catch (e) { fail(e); }
      } }, 'Add API key'),
      el('h3', {}, 'Issue a JWT'),
      el('div', { class: 'row' }, el('label', { class: 'inline' }, 'TTL seconds', ttl),
        el('label', { class: 'inline' }, 'Scopes', jwtScopes),
        el('button', { type: 'button', id: 'jwt-issue', onclick: async () => {
          const body = { ttl: Number(ttl.value) };
          if (jwtScopes.value.trim()) body.scopes = words(jwtScopes.value);
          try {
            const t = await call('POST', `/admin/subjects/${encodeURIComponent(r.subject)}/jwt`, body);
            await load();
            showSecret(`JWT for ${r.subject}, expires ${t.expires_at}`, t.token);
          } catch (e) { fail(e); }
        } }, 'Issue JWT')),
      el('h3', {}, 'Subject'),
      el('button', { type: 'button', class: 'secondary', id: 'subject-toggle', onclick: async () => {
        try { await call('PATCH', '/admin/subjects/' + encodeURIComponent(r.subject), { enabled: !r.enabled, version: r.version });
              msg(`${r.subject} ${r.enabled ? 'disabled' : 'enabled'}`); await load(); await openEditor(r.subject); } catch (e) { fail(e); }
      } }, r.enabled ? 'Disable' : 'Enable'),
      el('button', { type: 'button', class: 'danger', id: 'subject-delete', onclick: async () => {
        if (!confirm(`Delete subject ${r.subject}, its keys and its Vault policy?`)) return;
        try { await call('DELETE', '/admin/subjects/' + encodeURIComponent(r.subject));
              msg(`deleted ${r.subject}`); clear(editor); await load(); } catch (e) { fail(e); }
      } }, 'Delete')));
  }

  status('subjects');
  await load();
}
