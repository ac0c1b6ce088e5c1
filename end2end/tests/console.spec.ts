// The VM console in the browser: noVNC → our relay → PVE's vncwebsocket (the simulator's VNC
// server). Run: cd end2end && npx playwright test console.spec.ts
import { test, expect, Page, APIRequestContext } from '@playwright/test';
import * as http from 'node:http';
import { ADMIN_PASSWORD, BASE_URL, SIM_URL, login, waitForHydration } from './helpers';

/** The text rows on a VM's (simulated) screen, read from the simulator's test control. */
async function screenText(request: APIRequestContext, vmid: string): Promise<string> {
  const response = await request.get(`${SIM_URL}/_sim/console/${vmid}/text`, { ignoreHTTPSErrors: true });
  expect(response.ok()).toBe(true);
  return (await response.json()).join('\n');
}

/** A running VM's id and node from the list. */
async function runningVm(page: Page, index = 0): Promise<{ vmid: string; node: string; name: string }> {
  const row = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').nth(index);
  const vmid = (await row.getAttribute('data-vmid'))!;
  const node = (await row.getByTestId('vm-node').innerText()).trim();
  const name = (await row.getByTestId('vm-name').innerText()).trim();
  return { vmid, node, name };
}

async function openConsole(page: Page, vm: { vmid: string; node: string }) {
  await page.goto(`/vms/demo/${vm.node}/${vm.vmid}/console`);
  await waitForHydration(page);
}

/** How many distinct colours a sample of the console canvas has (1 = blank). */
async function canvasColours(page: Page): Promise<number> {
  return page.locator('[data-testid="console-screen"] canvas').evaluate((canvas: HTMLCanvasElement) => {
    const ctx = canvas.getContext('2d')!;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const seen = new Set<number>();
    for (let i = 0; i < data.length; i += 4 * 97) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
  });
}

test('an operator sees the VM screen, and typed text reaches the VM', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vm = await runningVm(page);
  await openConsole(page, vm);
  const status = page.getByTestId('console-status');
  await expect(status).toHaveAttribute('data-state', 'connected');
  await expect(status).toHaveText(`Connected to ${vm.name}`);
  await expect.poll(() => canvasColours(page)).toBeGreaterThan(2);
  await page.locator('[data-testid="console-screen"]').screenshot({ path: 'test-results/console-screen.png' });
  expect(await screenText(page.request, vm.vmid)).toContain(`VM ${vm.vmid}`);

  // Typed on the keyboard into the screen …
  await page.locator('[data-testid="console-screen"] canvas').click();
  await page.keyboard.type('abc123');
  await expect.poll(() => screenText(page.request, vm.vmid)).toContain('abc123');
  // … and pasted as keystrokes.
  await page.getByTestId('paste-text').fill('hello world');
  await page.getByTestId('type-text').click();
  await expect.poll(() => screenText(page.request, vm.vmid)).toContain('hello world');
});

test('a viewer is refused, and a console session opens only once', async ({ page, browser }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vm = await runningVm(page);
  const name = `cview${Date.now() % 100000}`;
  const created = await page.request.post('/api/users_create', { form: { username: name, password: 'viewer-pass-1', role: 'viewer' } });
  expect(created.ok()).toBe(true);

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await login(viewer, name, 'viewer-pass-1');
  await openConsole(viewer, vm);
  await expect(viewer.getByTestId('console-status')).toHaveAttribute('data-state', 'error');
  await expect(viewer.getByTestId('console-status')).toContainText('Permission denied');
  const refused = await viewer.request.post('/api/console_open', { form: { cluster: 'demo', node: vm.node, vmid: vm.vmid } });
  expect(refused.ok()).toBe(false);
  await viewerContext.close();

  // One ticket, two attempts: the second is refused before any upgrade.
  const ticket = await page.request.post('/api/console_open', { form: { cluster: 'demo', node: vm.node, vmid: vm.vmid } });
  expect(ticket.ok()).toBe(true);
  const { ws_path } = await ticket.json();
  await page.goto('/');
  const outcomes = await page.evaluate(async (path) => {
    const attempt = () =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://${location.host}${path}`, ['binary']);
        ws.onopen = () => { resolve('open'); ws.close(); };
        ws.onerror = () => resolve('refused');
      });
    return [await attempt(), await attempt()];
  }, ws_path);
  expect(outcomes).toEqual(['open', 'refused']);
});

test('two browsers on one VM both stay connected', async ({ page, browser }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vm = await runningVm(page, 1);
  const other = await browser.newContext();
  const second = await other.newPage();
  await login(second, 'admin', ADMIN_PASSWORD);
  await Promise.all([openConsole(page, vm), openConsole(second, vm)]);
  for (const p of [page, second]) {
    await expect(p.getByTestId('console-status')).toHaveAttribute('data-state', 'connected');
  }
  await page.waitForTimeout(3000);
  for (const p of [page, second]) {
    await expect(p.getByTestId('console-status')).toHaveAttribute('data-state', 'connected');
  }
  await second.getByTestId('paste-text').fill('from-second');
  await second.getByTestId('type-text').click();
  await expect.poll(() => screenText(page.request, vm.vmid)).toContain('from-second');
  await other.close();
});

test('a dropped relay reconnects by itself', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vm = await runningVm(page);
  await openConsole(page, vm);
  const status = page.getByTestId('console-status');
  await expect(status).toHaveAttribute('data-state', 'connected');
  const states: string[] = [];
  await page.exposeFunction('recordState', (s: string) => states.push(s));
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid="console-status"]')!;
    new MutationObserver(() => (window as any).recordState(el.getAttribute('data-state'))).observe(el, { attributes: true });
  });
  const dropped = await page.request.post(`${SIM_URL}/_sim/console/drop`, { ignoreHTTPSErrors: true });
  expect(dropped.ok()).toBe(true);
  await expect.poll(() => states).toContain('reconnecting');
  await expect(status).toHaveAttribute('data-state', 'connected', { timeout: 20_000 });
});

/** Serves a partner page on `port` that frames `embedUrl` and records the console's messages. */
function partnerPage(port: number, embedUrl: string): Promise<http.Server> {
  const html = `<!DOCTYPE html><html><body><h1>Partner portal</h1>
<iframe id="console" src="${embedUrl}" width="900" height="600"></iframe>
<script>window.messages = []; addEventListener('message', (e) => window.messages.push(e.data && e.data.state));</script>
</body></html>`;
  const server = http.createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(html); });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function mintEmbed(page: Page, vm: { vmid: string; node: string }, origin: string, ttl = 600) {
  const response = await page.request.post('/api/embed_links_create', {
    form: { cluster: 'demo', node: vm.node, vmid: vm.vmid, origin, ttl_secs: String(ttl), single_use: 'false', view_only: 'false' },
  });
  expect(response.ok(), await response.text()).toBe(true);
  return `${BASE_URL}${(await response.json()).url}`;
}

test('an embed link works in an iframe of the allowed origin only, until it expires', async ({ page, browser }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  const vm = await runningVm(page);
  const allowed = 'http://127.0.0.1:3310';
  const url = await mintEmbed(page, vm, allowed);
  const shortLived = await mintEmbed(page, vm, 'http://127.0.0.1:3312', 1);
  const servers = [await partnerPage(3310, url), await partnerPage(3311, url), await partnerPage(3312, shortLived)];
  try {
    // No Cecyber cookie in the partner's browser.
    const partner = await browser.newContext();
    const portal = await partner.newPage();
    await portal.goto('http://127.0.0.1:3310/');
    await expect.poll(() => portal.evaluate(() => (window as any).messages)).toContain('connected');
    const frame = portal.frameLocator('#console');
    await expect(frame.getByTestId('console-status')).toHaveAttribute('data-state', 'connected');

    // Another origin: the browser refuses to frame the console (CSP frame-ancestors).
    const elsewhere = await partner.newPage();
    await elsewhere.goto('http://127.0.0.1:3311/');
    await elsewhere.waitForTimeout(3000);
    expect(await elsewhere.evaluate(() => (window as any).messages)).toEqual([]);

    // Expired.
    await new Promise((r) => setTimeout(r, 2500));
    const late = await partner.newPage();
    await late.goto('http://127.0.0.1:3312/');
    await expect(late.frameLocator('#console').getByTestId('console-status')).toHaveAttribute('data-state', 'error');
    await expect.poll(() => late.evaluate(() => (window as any).messages)).toContain('error');
    await partner.close();
  } finally {
    for (const s of servers) s.close();
  }
});
