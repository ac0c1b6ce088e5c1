// The task center. Run: cd end2end && npx playwright test tasks.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('the task center lists a task started in the panel, filters by type and VM, and shows its whole log', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  const stopped = page.locator('tbody tr[data-kind="qemu"][data-status="stopped"]:has(button[data-action="start"])').first();
  const vmid = await stopped.getAttribute('data-vmid');
  await stopped.locator('button[data-action="start"]').click();
  await expect(page.getByTestId('task-panel').locator('li').first()).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });

  await page.getByRole('link', { name: 'Tasks' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Tasks');
  const rows = page.locator('[data-testid="task-table"] tbody tr');
  await expect(rows.first()).toBeVisible();
  await page.getByTestId('task-type').selectOption('qmstart');
  await page.getByTestId('task-vmid').fill(vmid!);
  await expect(rows.first()).toBeVisible();
  const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[2].textContent));
  expect(new Set(kinds)).toEqual(new Set(['qmstart']));
  const vms = await rows.evaluateAll((trs) => trs.map((tr) => tr.children[3].textContent));
  expect(new Set(vms)).toEqual(new Set([vmid]));
  await expect(rows.first()).toHaveAttribute('data-outcome', 'ok');

  await rows.first().getByTestId('task-open').click();
  const log = page.getByTestId('task-log-full');
  await expect(log).toHaveAttribute('data-ended', 'true');
  await expect(log).toContainText('TASK OK');
  // An ended task offers no Stop.
  await expect(page.getByTestId('task-stop')).toHaveCount(0);
});
