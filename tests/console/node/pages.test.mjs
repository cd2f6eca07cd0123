// Browser check of the API docs pages (/docs/ Swagger UI, /redoc/ ReDoc):
// each renders the live /openapi.json under the page's CSP with no CSP
// violation, page error or console error. VMB_BASE = http://127.0.0.1:PORT;
// VMB_SHOT_DIR optional; CHROMIUM defaults to /usr/bin/chromium.
import puppeteer from 'puppeteer-core';

const base = process.env.VMB_BASE;
const shots = process.env.VMB_SHOT_DIR || '';
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
let failed = false;
try {
  for (const [path, ready, name] of [['/docs/', '.opblock', 'swagger'], ['/redoc/', '[data-section-id]', 'redoc']]) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const problems = [];
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', e => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
      });
    });
    page.on('console', m => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
    page.on('pageerror', e => problems.push('page error: ' + e.message));
    const res = await page.goto(base + path, { waitUntil: 'networkidle0' });
    const csp = res.headers()['content-security-policy'] || '';
    if (!csp.includes("script-src 'self'") || /unsafe-eval/.test(csp) || /script-src[^;]*unsafe-inline/.test(csp)) {
      problems.push('CSP: ' + csp);
    }
    try { await page.waitForSelector(ready, { timeout: 30000 }); } catch { problems.push(`${path}: ${ready} never appeared`); }
    if (shots) await page.screenshot({ path: `${shots}/${name}.png` });
    if (problems.length) { failed = true; console.error(`FAIL ${path}:\n  ` + problems.join('\n  ')); }
    else console.log(`ok ${path}`);
    await page.close();
  }
} finally { await browser.close(); }
process.exitCode = failed ? 1 : 0;
