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
const shots = process.env.VMB_SHOT_DIR || '';
if (!base || !jwt || !kmsKey) { console.error('VMB_BASE, VMB_ADMIN_JWT and VMB_KMS_KEY are required'); process.exit(2); }
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
  page.on('console', m => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
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
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('signin-error').textContent.includes('401'));
  // The browser logs the 401 fetch as a console error: that one is expected.
  const before = problems.length;
  problems.splice(0, problems.length, ...problems.slice(0, before).filter(p => !/Failed to load resource.*401/.test(p)));

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
  await page.click('#kv-read');
  await page.waitForFunction(() => /404/.test(document.getElementById('kv-out').textContent));
  // The 404 fetch is logged by the browser; expected.
  problems.splice(0, problems.length, ...problems.filter(p => !/Failed to load resource.*404/.test(p)));

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
