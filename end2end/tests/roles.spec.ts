// Roles: an admin creates a viewer; the viewer sees no power buttons, and the server refuses a
// direct call of the power server function. Run: cd end2end && npx playwright test roles.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

const VIEWER = { name: `viewer${Date.now() % 100000}`, password: 'viewer-password-1' };

test('a viewer can look but not act', async ({ page, browser }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Users' }).click();
  const form = page.getByTestId('new-user');
  await form.getByPlaceholder('Username').fill(VIEWER.name);
  await form.getByPlaceholder(/^Password/).fill(VIEWER.password);
  await form.locator('select[name="role"]').selectOption('viewer');
  await form.getByRole('button', { name: 'Create' }).click();
  await expect(page.locator(`tr[data-user="${VIEWER.name}"]`)).toBeVisible();

  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await login(viewer, VIEWER.name, VIEWER.password);
  const rows = viewer.locator('[data-testid="vm-table"] tbody tr');
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThanOrEqual(10);
  await expect(viewer.locator('button[data-action]')).toHaveCount(0);
  await expect(viewer.getByRole('link', { name: 'Users' })).toHaveCount(0);

  // Calling the server function directly, with the viewer's session, is refused by the server.
  const stopped = rows.and(viewer.locator('[data-status="stopped"]')).first();
  const vmid = await stopped.getAttribute('data-vmid');
  const node = (await stopped.getByTestId('vm-node').innerText()).trim();
  const response = await viewer.request.post('/api/vm_power', {
    form: { cluster: 'demo', node, vmid: vmid!, action: 'start' },
  });
  expect(response.ok()).toBe(false);
  expect(await response.text()).toContain('Forbidden');
  await viewer.reload();
  await expect(viewer.locator(`tbody tr[data-vmid="${vmid}"]`)).toHaveAttribute('data-status', 'stopped');

  // The admin pages are refused too.
  const users = await viewer.request.post('/api/users_list', { form: {} });
  expect(users.ok()).toBe(false);
  await viewerContext.close();
});
