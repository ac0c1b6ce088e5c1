// The dashboard's live charts, fed by server-sent events (the test server ticks every 2 s).
// Run: cd end2end && npx playwright test dashboard.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('live charts draw and change within two ticks, without reload', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await waitForHydration(page);
  await expect(page.getByTestId('live-status')).toHaveAttribute('data-connected', 'true');

  const cpu = page.locator('#chart-cpu');
  // ECharts drew into the element (a canvas), from our own origin.
  await expect(cpu.locator('canvas')).toHaveCount(1);
  // Filled from PVE's history (metrics export) at once: not just the first poll.
  await expect.poll(async () => Number(await cpu.getAttribute('data-points'))).toBeGreaterThan(20);
  const before = Number(await cpu.getAttribute('data-last-t'));
  const navigations: string[] = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));

  // Two ticks of 2 s, with a margin for a slow machine.
  await expect
    .poll(async () => Number(await cpu.getAttribute('data-last-t')), { timeout: 4_500 + 3_000 })
    .toBeGreaterThan(before);
  expect(navigations, 'no reload').toEqual([]);
  await expect(page.locator('#chart-network canvas')).toHaveCount(1);
  await expect(page.locator('#chart-memory')).toHaveAttribute('data-last', /\d+\.\d\d/);
});
