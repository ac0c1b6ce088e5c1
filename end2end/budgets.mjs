// Page weight budgets: loads pages of a running Cecyber in headless Chromium and sums the bytes
// that came over the network (the DevTools protocol's encodedDataLength: headers and the body
// as sent, compressed or not). Prints every figure; fails when one is over its budget.
// Usage: node end2end/budgets.mjs BASE_URL ADMIN_PASSWORD   (against a release build: .ci/budgets)
// The console's WebSocket frames and the live stream's events after the page has loaded are
// data, not page weight, and are not counted.
import { chromium } from '@playwright/test';

const [base, password] = process.argv.slice(2);
if (!base || !password) { console.error('usage: node end2end/budgets.mjs BASE_URL ADMIN_PASSWORD'); process.exit(2); }

const KB = 1000;
// The dashboard's was 900 kB until 2026-12-04: the VM operations (snapshots, migration,
// hardware, clone, task center, nodes, bulk actions) grew the panel wasm from 588 to 832 kB, and
// it was raised to 1,050 kB rather than hold them back. Splitting the panel bundle (the VM
// operations loaded by the pages that use them) is to bring it back under 900 kB.
const BUDGETS = { login: 500 * KB, embed: 500 * KB, dashboard: 1150 * KB, repeat: 20 * KB };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** Counts the bytes of every HTTP response `page` receives until `stop()` is called. */
async function meter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const bytes = new Map(); // requestId → bytes so far
  const urls = new Map();
  let counting = true;
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.dataReceived', (e) => {
    if (counting) bytes.set(e.requestId, (bytes.get(e.requestId) ?? 0) + e.encodedDataLength);
  });
  cdp.on('Network.loadingFinished', (e) => {
    if (counting) bytes.set(e.requestId, Math.max(bytes.get(e.requestId) ?? 0, e.encodedDataLength));
  });
  return {
    cdp,
    stop() {
      counting = false;
      const files = [...bytes].map(([id, n]) => [n, urls.get(id) ?? id]).sort((a, b) => b[0] - a[0]);
      return { total: files.reduce((sum, [n]) => sum + n, 0), files };
    },
  };
}

const hydrated = (page) => page.waitForFunction(() => window.__cecyber_hydrated === true, null, { timeout: 60_000 });
/** Lets late requests (lazily loaded scripts, server functions) arrive. */
const settle = (page) => page.waitForLoadState('networkidle').catch(() => {}).then(() => page.waitForTimeout(1500));

async function login(page) {
  await page.goto(`${base}/login`);
  await hydrated(page);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('vm-table').waitFor();
}

const results = [];
function record(name, { total, files }) {
  results.push({ name, total, budget: BUDGETS[name] });
  console.log(`\n${name}: ${(total / KB).toFixed(1)} kB (budget ${BUDGETS[name] / KB} kB)`);
  for (const [n, url] of files.slice(0, 6)) console.log(`  ${(n / KB).toFixed(1).padStart(8)} kB  ${url.replace(base, '')}`);
}

// 1. The login page, first visit.
{
  const context = await browser.newContext();
  const page = await context.newPage();
  const m = await meter(page);
  await page.goto(`${base}/login`);
  await hydrated(page);
  await settle(page);
  record('login', m.stop());
  await context.close();
}

// 2. The dashboard, first visit after logging in (cache emptied), then 3. a repeat visit.
let embedUrl;
{
  const context = await browser.newContext();
  const page = await context.newPage();
  await login(page);
  const vmid = await page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first().getAttribute('data-vmid');
  const node = (await page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first().getByTestId('vm-node').innerText()).trim();
  const minted = await page.request.post(`${base}/api/embed_links_create`, {
    form: { cluster: 'demo', node, vmid, origin: 'http://127.0.0.1:9', ttl_secs: '600', single_use: 'false', view_only: 'true' },
  });
  if (!minted.ok()) throw new Error(`minting an embed link: ${minted.status()} ${await minted.text()}`);
  embedUrl = `${base}${(await minted.json()).url}`;

  const first = await context.newPage();
  const m = await meter(first);
  await m.cdp.send('Network.clearBrowserCache');
  await first.goto(`${base}/dashboard`);
  await hydrated(first);
  await first.locator('.chart canvas').first().waitFor({ timeout: 30_000 });
  await settle(first);
  record('dashboard', m.stop());
  await first.close();

  const again = await context.newPage();
  const r = await meter(again);
  await again.goto(`${base}/dashboard`);
  await hydrated(again);
  await again.locator('.chart canvas').first().waitFor({ timeout: 30_000 });
  await settle(again);
  // The repeat visit measures what the browser's cache saves. The live stream's snapshot is
  // data, sent afresh on every visit (the first visit counts it): reported, not counted, so
  // that the figure does not depend on whether the snapshot arrived before the count stopped.
  const seen = r.stop();
  const live = seen.files.filter(([, url]) => new URL(url, base).pathname === '/api/live');
  const liveBytes = live.reduce((sum, [n]) => sum + n, 0);
  record('repeat', {
    total: seen.total - liveBytes,
    files: seen.files.filter(([, url]) => new URL(url, base).pathname !== '/api/live'),
  });
  console.log(`  (live stream, not counted: ${(liveBytes / KB).toFixed(1)} kB)`);
  await context.close();
}

// 4. The partner's embedded console, first visit (no Cecyber cookie).
{
  const context = await browser.newContext();
  const page = await context.newPage();
  const m = await meter(page);
  await page.goto(embedUrl);
  await hydrated(page);
  await page.getByTestId('console-status').and(page.locator('[data-state="connected"]')).waitFor({ timeout: 30_000 });
  await settle(page);
  record('embed', m.stop());
  await context.close();
}

await browser.close();
const over = results.filter((r) => r.total > r.budget);
console.log('\n' + results.map((r) => `${r.name} ${(r.total / KB).toFixed(1)}/${r.budget / KB} kB`).join(', '));
if (over.length) {
  console.error(`over budget: ${over.map((r) => r.name).join(', ')}`);
  process.exit(1);
}
console.log('all pages within budget');
