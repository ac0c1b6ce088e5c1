// Scopes: an admin gives a user a scope of PVE tags on the users page; a bad tag is refused and
// loses nothing; the user's VM list then shows only the VMs carrying the tag.
// Run: cd end2end && npx playwright test scope.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

const USER = { name: `tenant${Date.now() % 100000}`, password: 'tenant-password-1' };

type Row = { vmid: number; tags: string[]; template: boolean };

test('a scoped user sees only the VMs carrying its tags', async ({ page, browser }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);

  // Pick two tags that each split the simulated VMs (the demo's VMs carry prod, web, db, …).
  const listed = await page.request.post('/api/vms_list', { form: {} });
  expect(listed.ok()).toBe(true);
  const vms: Row[] = (await listed.json()).vms;
  const count = (tag: string) => vms.filter((v) => v.tags.includes(tag)).length;
  const tags = [...new Set(vms.flatMap((v) => v.tags))].filter(
    (t) => count(t) > 0 && count(t) < vms.length,
  );
  expect(tags.length).toBeGreaterThanOrEqual(2);
  const [first, second] = tags;

  // Create the user with a first scope.
  await page.getByRole('link', { name: 'Users' }).click();
  const form = page.getByTestId('new-user');
  await form.getByPlaceholder('Username').fill(USER.name);
  await form.getByPlaceholder(/^Password/).fill(USER.password);
  await form.locator('select[name="role"]').selectOption('viewer');
  await form.getByPlaceholder(/^Scope/).fill(first);
  await form.getByRole('button', { name: 'Create' }).click();
  const row = page.locator(`tr[data-user="${USER.name}"]`);
  await expect(row.getByTestId('user-scope')).toHaveText(`VMs tagged ${first}`);

  // A bad tag is refused with a clear message; the scope and the typed text stay.
  const field = row.getByLabel('Scope');
  await field.fill(`${second}, no/slash`);
  await row.getByRole('button', { name: 'Set scope' }).click();
  await expect(page.getByText('not a valid PVE tag')).toBeVisible();
  await expect(row.getByTestId('user-scope')).toHaveText(`VMs tagged ${first}`);
  await expect(field).toHaveValue(`${second}, no/slash`);

  // The second tag is saved.
  await field.fill(second);
  await row.getByRole('button', { name: 'Set scope' }).click();
  await expect(row.getByTestId('user-scope')).toHaveText(`VMs tagged ${second}`);

  // The user's list shows exactly the VMs tagged with it.
  const expected = vms.filter((v) => v.tags.includes(second)).map((v) => String(v.vmid));
  const context = await browser.newContext();
  const user = await context.newPage();
  await login(user, USER.name, USER.password);
  const rows = user.locator('[data-testid="vm-table"] tbody tr[data-vmid]');
  await expect(rows).toHaveCount(expected.length);
  const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-vmid')));
  expect(shown.sort()).toEqual([...expected].sort());
  await context.close();
});
