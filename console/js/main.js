// main.js - sign-in, sign-out and page routing (#subjects, #ops, ...).
// The hash names a page only; it never carries a credential.
import { call, getCredential, setCredential, clearCredential } from './api.js';
import { el, clear, status } from './ui.js';
import * as subjects from './subjects.js';
import * as ops from './ops.js';
import * as kms from './kms.js';
import * as agents from './agents.js';
import * as obs from './obs.js';

const pages = { subjects, ops, kms, agents, obs };

async function whoami() {
  return call('GET', '/whoami');
}

async function route() {
  const page = document.getElementById('page');
  if (!getCredential()) return;
  const name = (location.hash || '#subjects').slice(1);
  const mod = pages[name] || subjects;
  for (const a of document.querySelectorAll('#nav a[data-page]')) a.classList.toggle('active', a.dataset.page === name);
  clear(page);
  try { await mod.render(page); } catch (e) { page.append(el('p', { class: 'error' }, String(e.message || e))); }
}

async function signedIn(me) {
  document.getElementById('signin').hidden = true;
  document.getElementById('page').hidden = false;
  document.getElementById('nav').hidden = false;
  const who = clear(document.getElementById('who'));
  who.append(el('span', { id: 'who-subject' }, `${me.subject} (${(me.scopes || []).join(' ')})`),
    el('button', { type: 'button', class: 'secondary', id: 'signout', onclick: signOut }, 'Sign out'));
  await route();
}

function signOut() {
  clearCredential();
  clear(document.getElementById('page'));
  clear(document.getElementById('who'));
  document.getElementById('page').hidden = true;
  document.getElementById('nav').hidden = true;
  document.getElementById('signin').hidden = false;
  document.getElementById('signin-secret').value = '';
  status('signed out');
}

document.getElementById('signin-form').addEventListener('submit', async ev => {
  ev.preventDefault();
  const err = document.getElementById('signin-error');
  err.textContent = '';
  const kind = document.getElementById('signin-kind').value;
  const secret = document.getElementById('signin-secret').value.trim();
  try {
    const me = await call('GET', '/whoami', null, { credential: { kind, secret } });
    setCredential(kind, secret);
    document.getElementById('signin-secret').value = '';
    await signedIn(me);
  } catch (e) { err.textContent = e.describe ? e.describe() : String(e.message || e); }
});
window.addEventListener('hashchange', route);

(async () => {
  if (!getCredential()) return;
  try { await signedIn(await whoami()); } catch { signOut(); }
})();
