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
