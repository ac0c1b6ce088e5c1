// Cecyber behind nginx, configured with the recipe README.md shows (end2end/nginx/cecyber.conf,
// started by start-nginx.sh): HTTPS and HTTP/2 in front, a demo server behind it with
// public_url set. Runs in the `proxy` project only (its baseURL is nginx).
// Run: cd end2end && npx playwright test --project proxy
import { test, expect, Page, APIRequestContext } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

/** The simulator of the server behind nginx (playwright.config.ts: port + 80, its sim on + 1). */
const PROXIED_SIM_URL = `https://127.0.0.1:${Number(process.env.CECYBER_E2E_PORT ?? 3300) + 81}`;

test('the README shows exactly the nginx configuration these tests use', () => {
  let output = '';
  try {
    output = execFileSync('node', ['nginx/check-readme.mjs'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e: any) {
    throw new Error(`${e.stderr || e.message}`);
  }
  expect(output).toContain('is end2end/nginx/cecyber.conf');
});

test('logging in through the proxy: HTTPS over HTTP/2, a Secure session cookie', async ({ page, baseURL }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  expect(page.url().startsWith(`${baseURL}/`)).toBe(true);
  // nginx answered the browser over HTTP/2 (Cecyber itself speaks HTTP/1.1 only).
  expect(await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol)).toBe('h2');
  // X-Forwarded-Proto: https reached Cecyber: the cookie is Secure (it is not on plain HTTP).
  const session = (await page.context().cookies()).find((c) => c.name === 'cecyber_session');
  expect(session?.secure, 'X-Forwarded-Proto: https not believed (trusted_proxies?)').toBe(true);
  expect(session?.httpOnly).toBe(true);
  // A write from the page (logout) passes the same-origin check: Host is nginx's upstream
  // name, public_url names the proxy's origin.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
});

/** The text rows on a VM's (simulated) screen, from the simulator's test control. */
async function screenText(request: APIRequestContext, vmid: string): Promise<string> {
  const response = await request.get(`${PROXIED_SIM_URL}/_sim/console/${vmid}/text`, { ignoreHTTPSErrors: true });
  expect(response.ok()).toBe(true);
  return (await response.json()).join('\n');
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

test('the console shows the VM screen through the proxied WebSocket, and typing reaches the VM', async ({ page }) => {
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await login(page, 'admin', ADMIN_PASSWORD);
  const row = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  const vmid = (await row.getAttribute('data-vmid'))!;
  const node = (await row.getByTestId('vm-node').innerText()).trim();
  const name = (await row.getByTestId('vm-name').innerText()).trim();
  await page.goto(`/vms/demo/${node}/${vmid}/console`);
  await waitForHydration(page);
  const status = page.getByTestId('console-status');
  await expect(status).toHaveAttribute('data-state', 'connected');
  await expect(status).toHaveText(`Connected to ${name}`);
  await expect.poll(() => canvasColours(page)).toBeGreaterThan(2);
  expect(await screenText(page.request, vmid)).toContain(`VM ${vmid}`);
  expect(sockets.some((url) => url.startsWith('wss://127.0.0.1:') && url.includes('/api/console/ws?session=')), sockets.join(' ')).toBe(true);

  // The other direction: keystrokes from the browser through nginx to the VM.
  await page.getByTestId('paste-text').fill('via-nginx');
  await page.getByTestId('type-text').click();
  await expect.poll(() => screenText(page.request, vmid)).toContain('via-nginx');
});

test('the dashboard charts move with each tick of the live stream through the proxy', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await waitForHydration(page);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-connected', 'true');
  const cpu = page.locator('#chart-cpu');
  await expect(cpu.locator('canvas')).toHaveCount(1);
  await expect.poll(async () => Number(await cpu.getAttribute('data-points'))).toBeGreaterThan(1);
  // Two ticks in a row (the test server ticks every 2 s): a buffering proxy would hold the
  // small events back until its buffer filled.
  for (let tick = 0; tick < 2; tick += 1) {
    const before = Number(await cpu.getAttribute('data-last-t'));
    await expect
      .poll(async () => Number(await cpu.getAttribute('data-last-t')), { timeout: 4_500 + 3_000 })
      .toBeGreaterThan(before);
  }
  await expect(page.locator('#chart-memory')).toHaveAttribute('data-last', /\d+\.\d\d/);
});
