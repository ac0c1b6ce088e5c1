// The node list, a node's VMs, and back/forward between node pages.
// Run: cd end2end && npx playwright test nodes.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('the node list shows the quorum and every node; a node page lists its VMs', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Nodes', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Nodes');
  const cluster = page.getByTestId('cluster');
  await expect(cluster).toHaveAttribute('data-quorate', 'yes');
  await expect(page.getByTestId('quorum')).toContainText('quorate; 3 of 3 nodes online');
  const rows = page.locator('[data-testid="node-table"] tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0)).toContainText('pve-manager/');

  const count = Number(await rows.nth(1).getByTestId('node-vm-count').textContent());
  await rows.nth(1).getByRole('link', { name: 'pve2' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Node pve2');
  const vms = page.locator('[data-testid="node-vms"] tbody tr');
  await expect(vms).toHaveCount(count);

  // Another node straight from this one, then back and forward: the page shows the node its
  // URL names.
  await page.getByTestId('other-nodes').getByRole('link', { name: 'pve3' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Node pve3');
  await expect(page.locator('[data-testid="node-vms"] tbody tr').first()).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/nodes\/demo\/pve2$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Node pve2');
  await expect(vms).toHaveCount(count);
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Node pve3');
});

test('the dashboard shows the nodes of the live stream', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await page.goto('/dashboard');
  const rows = page.locator('[data-testid="dashboard-nodes"] tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toHaveAttribute('data-status', 'online');
});
