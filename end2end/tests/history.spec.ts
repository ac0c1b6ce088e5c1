// Metric history from rrddata on the VM and node pages, and the node overview.
// Run: cd end2end && npx playwright test history.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test.beforeEach(async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
});

test('the VM page charts rrddata, per period', async ({ page }) => {
  const row = page.locator('tbody tr[data-kind="qemu"][data-status="running"]').first();
  await row.locator('a').first().click();
  await waitForHydration(page);
  const cpu = page.locator('#history-cpu');
  await expect(cpu.locator('canvas')).toHaveCount(1);
  // PVE 9 keeps 60 one-minute points for the last hour.
  await expect.poll(async () => Number(await cpu.getAttribute('data-points'))).toBeGreaterThanOrEqual(55);
  await expect(cpu).toHaveAttribute('data-last', /\d/);
  await page.getByTestId('Period').selectOption('day');
  await expect.poll(async () => Number(await cpu.getAttribute('data-points'))).toBeGreaterThan(1000);
  await page.getByTestId('Values').selectOption('MAX');
  await expect.poll(async () => Number(await cpu.getAttribute('data-points'))).toBeGreaterThan(1000);
});

test('the node page shows versions, storages and history', async ({ page }) => {
  const node = (await page.locator('tbody tr').first().getByTestId('vm-node').innerText()).trim();
  await page.locator('tbody tr').first().getByTestId('vm-node').locator('a').click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Node ${node}`);
  await waitForHydration(page);
  const facts = page.getByTestId('node-facts');
  await expect(facts).toContainText('pve-manager/');
  await expect(facts).toContainText('CPU model');
  await expect(page.getByTestId('node-storages').locator('tbody tr')).not.toHaveCount(0);
  await expect(page.locator('[data-storage="local"]')).toBeVisible();
  const load = page.locator('#history-fourth');
  await expect.poll(async () => Number(await load.getAttribute('data-points'))).toBeGreaterThanOrEqual(55);
});
