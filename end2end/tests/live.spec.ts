// Live charts of one VM and one node: each page subscribes to that VM or node only.
// Run: cd end2end && npx playwright test live.spec.ts
import { test, expect, Page } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

/** Waits until the chart's newest point is newer than it was: a tick arrived, no reload. */
async function expectTicks(page: Page, selector: string) {
  const chart = page.locator(selector);
  await expect(chart.locator('canvas')).toHaveCount(1);
  await expect.poll(async () => Number(await chart.getAttribute('data-points'))).toBeGreaterThan(1);
  const before = Number(await chart.getAttribute('data-last-t'));
  await expect
    .poll(async () => Number(await chart.getAttribute('data-last-t')), { timeout: 10_000 })
    .toBeGreaterThan(before);
}

test('a VM page and a node page chart their own live data', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await waitForHydration(page);
  // The busiest running VM, from the overview stream.
  const busiest = page.getByTestId('busiest').locator('a').first();
  await expect(busiest).toBeVisible();
  const vmHref = (await busiest.getAttribute('href'))!;
  await page.goto(vmHref);
  await waitForHydration(page);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-connected', 'true');
  await expectTicks(page, '#live-vm-cpu');
  await expect(page.locator('#live-vm-memory')).toHaveAttribute('data-last', /\d+\.\d\d/);
  await expect(page.locator('#live-vm-network canvas')).toHaveCount(1);

  const [, , cluster, node] = vmHref.split('/');
  await page.goto(`/nodes/${cluster}/${node}`);
  await waitForHydration(page);
  await expectTicks(page, '#live-node-cpu');
  await expect(page.locator('#live-node-memory')).toHaveAttribute('data-last', /\d+\.\d\d/);
});

test('the stream opens again after the browser gave up on HTTP errors', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  // A proxy in front answers 502 for a while (the server restarting): the browser's
  // EventSource gives up on an HTTP error, so the page must open a new one by itself.
  let refused = 0;
  const liveStream = (url: URL) => url.pathname === '/api/live';
  await page.route(liveStream, (route) => {
    refused += 1;
    return route.fulfill({ status: 502, contentType: 'text/plain', body: 'bad gateway' });
  });
  await page.goto('/dashboard');
  await waitForHydration(page);
  await expect.poll(() => refused, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-connected', 'false');

  await page.unroute(liveStream);
  // Retries back off from 2 s, doubling: the next one gets through.
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-connected', 'true', {
    timeout: 20_000,
  });
  expect(refused).toBeGreaterThanOrEqual(2);
});
