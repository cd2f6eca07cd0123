// Browser test of the operator console: puppeteer-core drives Debian's
// /usr/bin/chromium (headless, no download) against a running stack.
// Environment: VMB_BASE (http://127.0.0.1:PORT), VMB_ADMIN_JWT (a bearer
// token with the admin scope), VMB_KMS_KEY (a key id the fake KMS serves),
// VMB_SHOT_DIR (screenshots; empty = none). Exit status 0 = every step passed.
import puppeteer from 'puppeteer-core';
import { mkdirSync } from 'node:fs';

const base = process.env.VMB_BASE;
const jwt = process.env.VMB_ADMIN_JWT;
const kmsKey = process.env.VMB_KMS_KEY;
const adminKey = process.env.VMB_ADMIN_API_KEY;
const shots = process.env.VMB_SHOT_DIR || '';
if (!base || !jwt || !kmsKey || !adminKey) {
  console.error('VMB_BASE, VMB_ADMIN_JWT, VMB_ADMIN_API_KEY and VMB_KMS_KEY are required'); process.exit(2);
}
// A request to the bridge from this process (not the page): what a client
// holding the console-issued key would send.
async function api(method, path, headers = {}) {
  const r = await fetch(base + path, { method, headers });
  return { status: r.status, text: await r.text() };
}
if (shots) mkdirSync(shots, { recursive: true });

const problems = [];
const fail = m => { throw new Error(m); };
const step = m => console.log('step: ' + m);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.setDefaultTimeout(20000);
  // Any CSP violation, page error or console error fails the test.
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', e => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  // Failed requests the test provokes on purpose (the browser logs each as
  // a console error): {path, status}; any other console error is a problem.
  const expected = [];
  page.on('console', m => {
    if (m.type() !== 'error') return;
    const url = (m.location() && m.location().url) || '';
    if (/^Failed to load resource/.test(m.text()) &&
        expected.some(e => url.startsWith(base + e.path) && m.text().includes(` ${e.status} `))) return;
    problems.push(`console error: ${m.text()} ${url}`);
  });
  page.on('pageerror', e => problems.push('page error: ' + e.message));
  page.on('dialog', d => d.accept());

  step('load /console/ with its CSP');
  const res = await page.goto(base + '/console/', { waitUntil: 'networkidle0' });
  const csp = res.headers()['content-security-policy'] || '';
  for (const d of ["default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) {
    if (!csp.includes(d)) fail(`CSP lacks ${d}: ${csp}`);
  }
  if (/unsafe-inline|unsafe-eval/.test(csp)) fail('CSP allows unsafe-*: ' + csp);
  if (shots) await page.screenshot({ path: `${shots}/signin.png` });

  step('wrong credential is refused');
  await page.select('#signin-kind', 'apikey');
  await page.type('#signin-secret', 'not-a-key');
  expected.push({ path: '/whoami', status: 401 });
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('signin-error').textContent.includes('401'));

  step('sign in with the admin API key (dev-admin, scope admin)');
  await page.select('#signin-kind', 'apikey');
  await page.$eval('#signin-secret', e => { e.value = ''; });
  await page.type('#signin-secret', adminKey);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#subjects-table');

  step('create a subject');
  const subj = 'console-' + Date.now();
  await page.click('#subjects-new');
  await page.waitForSelector('#subject-form #ed-subject');
  await page.type('#ed-subject', subj);
  await page.type('#ed-description', 'made by the browser test');
  await page.type('#ed-transit_keys', 'mcp-default');
  await page.click('#ed-save');
  await page.waitForSelector(`#subjects-table tr[data-subject="${subj}"]`);
  await page.waitForSelector('#key-add');

  step('add an API key: shown once, then used through the API');
  await page.click('#key-add');
  await page.waitForSelector('#secret-value');
  const newKey = await page.$eval('#secret-value', e => e.textContent);
  if (!/^vmb_[0-9a-f]{64}$/.test(newKey)) fail('new key looks wrong');
  await page.waitForFunction(s => document.querySelector(`#subjects-table tr[data-subject="${s}"] .keycount`)?.textContent === '1', {}, subj);
  let r = await api('GET', '/whoami', { 'X-API-Key': newKey });
  if (r.status !== 200 || !r.text.includes(subj)) fail(`the new key does not authenticate: ${r.status} ${r.text}`);

  step('revoke the key: it stops working');
  await page.click('#keys-table button[data-action="revoke"]');
  await page.waitForFunction(s => document.querySelector(`#subjects-table tr[data-subject="${s}"] .keycount`)?.textContent === '0', {}, subj);
  r = await api('GET', '/whoami', { 'X-API-Key': newKey });
  if (r.status !== 401) fail(`revoked key still answers ${r.status}`);
  // After the revoke: the key still shown in the page no longer works.
  if (shots) await page.screenshot({ path: `${shots}/subjects.png`, fullPage: true });

  step('export CSV');
  await page.click('#subjects-csv');
  await page.waitForFunction(() => /CSV exported \(\d+ bytes\)/.test(document.getElementById('subjects-msg').textContent));
  r = await api('GET', '/admin/subjects.csv', { 'X-API-Key': adminKey });
  if (r.status !== 200 || !r.text.includes(subj)) fail('CSV lacks the new subject');

  step('agent profile: LLM on, hybrid backend, tasks');
  await page.goto(base + '/console/#agents', { waitUntil: 'networkidle0' });
  await page.waitForSelector(`[data-agent="${subj}"] button`);
  await page.click(`#ag-${subj}-llm`);
  await page.select(`#ag-${subj}-backend`, 'hybrid');
  await page.type(`#ag-${subj}-tasks`, 'rotate db creds\nsummarise');
  await page.click(`[data-agent="${subj}"] button`);
  await page.waitForFunction(s => document.querySelector(`[data-agent="${s}"] .ok`)?.textContent === 'saved', {}, subj);
  r = await api('GET', '/admin/subjects/' + subj, { 'X-API-Key': adminKey });
  const rec = JSON.parse(r.text);
  if (rec.profile?.llm_enabled !== true || rec.profile?.secrets_backend !== 'hybrid' || rec.profile?.tasks?.length !== 2) {
    fail('profile not saved: ' + JSON.stringify(rec.profile));
  }
  if (shots) await page.screenshot({ path: `${shots}/agents.png`, fullPage: true });

  step('disable, then delete the subject');
  await page.goto(base + '/console/#subjects', { waitUntil: 'networkidle0' });
  await page.waitForSelector(`#subjects-table tr[data-subject="${subj}"] button[data-action="open"]`);
  await page.click(`#subjects-table tr[data-subject="${subj}"] button[data-action="open"]`);
  await page.waitForSelector('#subject-toggle');
  await page.click('#subject-toggle');
  await page.waitForFunction(s => document.querySelector(`#subjects-table tr[data-subject="${s}"] .badge`)?.textContent === 'disabled', {}, subj);
  await page.waitForSelector('#subject-delete');
  await page.click('#subject-delete');
  await page.waitForFunction(s => !document.querySelector(`#subjects-table tr[data-subject="${s}"]`), {}, subj);
  await page.click('#signout');
  await page.waitForSelector('#signin-form');

  step('sign in with the admin JWT');
  await page.select('#signin-kind', 'bearer');
  await page.$eval('#signin-secret', e => { e.value = ''; });
  await page.type('#signin-secret', jwt);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#who-subject');
  const who = await page.$eval('#who-subject', e => e.textContent);
  if (!who.includes('admin')) fail('whoami: ' + who);
  const stored = await page.evaluate(() => ({ ls: JSON.stringify(localStorage), ss: sessionStorage.length, url: location.href }));
  if (stored.ls.includes(jwt.slice(-20)) || stored.url.includes(jwt.slice(-20))) fail('credential in localStorage or URL');
  if (stored.ss < 1) fail('credential not in sessionStorage');

  step('KV: write, list, read through the hub');
  await page.goto(base + '/console/#ops', { waitUntil: 'networkidle0' });
  await page.waitForSelector('#kv-path');
  const secretValue = 'v-' + Date.now();
  await page.type('#kv-path', 'console/test');
  await page.type('#kv-data', JSON.stringify({ note: secretValue }));
  await page.click('#kv-write');
  await page.waitForFunction(() => /version/.test(document.getElementById('kv-out').textContent));
  await page.type('#kv-prefix', 'console/');
  await page.click('#kv-browse');
  await page.waitForSelector('#kv-list a[data-kv="console/test"]');
  await page.$eval('#kv-data', e => { e.value = ''; });
  await page.click('#kv-list a[data-kv="console/test"]');
  await page.waitForFunction(v => document.getElementById('kv-out').textContent.includes(v), {}, secretValue);
  if (shots) await page.screenshot({ path: `${shots}/operations-kv.png`, fullPage: true });

  step('KV: a wrapped read shows the wrapping token, never the secret');
  await page.type('#kv-wrap', '60s');
  await page.$eval('#kv-out', e => { e.textContent = ''; });
  await page.click('#kv-read');
  await page.waitForFunction(() => /wrap_info/.test(document.getElementById('kv-out').textContent));
  const wrapped = await page.$eval('#kv-out', e => e.textContent);
  if (wrapped.includes(secretValue)) fail('a wrapped read showed the secret');
  if (!/"token"/.test(wrapped)) fail('a wrapped read showed no wrapping token');
  await page.$eval('#kv-wrap', e => { e.value = ''; });

  step('MCP: tools/list, then kv read through the generated form');
  await page.click('button[data-tab="MCP"]');
  await page.waitForFunction(() => /\d+ tools/.test(document.getElementById('mcp-out')?.textContent || ''));
  const toolIndex = await page.$$eval('#mcp-tool option', os => os.findIndex(o => /^kv[._]read$/.test(o.textContent)));
  if (toolIndex < 0) fail('no kv read tool in tools/list');
  await page.select('#mcp-tool', String(toolIndex));
  await page.waitForSelector('#mcp-call-form input[name="path"]');
  await page.type('#mcp-call-form input[name="path"]', 'console/test');
  await page.click('#mcp-call');
  await page.waitForFunction(v => document.getElementById('mcp-out').textContent.includes(v), {}, secretValue);
  if (shots) await page.screenshot({ path: `${shots}/operations-mcp.png`, fullPage: true });

  step('KV: delete through the hub, then the read is 404');
  await page.click('button[data-tab="KV"]');
  await page.waitForSelector('#kv-path');
  await page.type('#kv-path', 'console/test');
  await page.click('#kv-delete');
  await page.waitForFunction(() => !document.getElementById('kv-out').classList.contains('error') && document.getElementById('kv-out').textContent.length > 0);
  expected.push({ path: '/secrets/console/test', status: 404 });
  await page.click('#kv-read');
  await page.waitForFunction(() => /404/.test(document.getElementById('kv-out').textContent));

  step('Transit tab renders its generated forms');
  await page.click('button[data-tab="Transit"]');
  await page.waitForSelector('#op-picker-transit option');

  step('KMS: encrypt then decrypt against the fake KMS');
  await page.goto(base + '/console/#kms', { waitUntil: 'networkidle0' });
  await page.waitForSelector('#op-picker-kms option');
  const encIndex = await page.$$eval('#op-picker-kms option', os => os.findIndex(o => o.textContent.includes('/kms/encrypt')));
  await page.select('#op-picker-kms', String(encIndex));
  await page.waitForSelector('#kms-box form input[name="key_id"]');
  await page.type('#kms-box form input[name="key_id"]', kmsKey);
  const plain = Buffer.from('console-' + Date.now()).toString('base64');
  await page.type('#kms-box form input[name="plaintext"]', plain);
  await page.click('#kms-box form button[type=submit]');
  await page.waitForFunction(() => /"ciphertext"/.test(document.getElementById('op-out-kms').textContent));
  const blob = JSON.parse(await page.$eval('#op-out-kms', e => e.textContent)).ciphertext;
  const decIndex = await page.$$eval('#op-picker-kms option', os => os.findIndex(o => o.textContent.includes('/kms/decrypt')));
  await page.select('#op-picker-kms', String(decIndex));
  await page.waitForSelector('#kms-box form input[name="ciphertext"]');
  await page.type('#kms-box form input[name="key_id"]', kmsKey);
  await page.type('#kms-box form input[name="ciphertext"]', blob);
  await page.click('#kms-box form button[type=submit]');
  await page.waitForFunction(p => document.getElementById('op-out-kms').textContent.includes(p), {}, plain);
  if (shots) await page.screenshot({ path: `${shots}/kms.png`, fullPage: true });

  step('Observability: charts and readiness');
  await page.goto(base + '/console/#obs', { waitUntil: 'networkidle0' });
  await page.waitForSelector('#chart-rate');
  await page.waitForFunction(() => /^\d{3} /.test(document.getElementById('obs-ready').textContent));
  await page.click('#obs-tail');
  await page.waitForFunction(() => document.getElementById('obs-logs').textContent.length > 0);
  if (shots) await page.screenshot({ path: `${shots}/observability.png`, fullPage: true });

  step('sign out clears the session storage');
  await page.click('#signout');
  const left = await page.evaluate(() => sessionStorage.length);
  if (left !== 0) fail('sessionStorage not empty after sign-out');

  if (problems.length) fail('browser problems:\n  ' + problems.join('\n  '));
  console.log('console browser test: all steps passed');
} catch (e) {
  console.error('FAIL: ' + e.message);
  try {
    const outs = await (await browser.pages())[1].$$eval('pre.out, p.error, [role=alert]', es => es.map(x => `${x.id}: ${x.textContent}`));
    console.error('page output:\n  ' + outs.join('\n  ').slice(0, 4000));
  } catch { /* the page may be gone */ }
  if (problems.length) console.error('browser problems:\n  ' + problems.join('\n  '));
  process.exitCode = 1;
} finally {
  await browser.close();
}
