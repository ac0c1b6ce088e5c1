// The wall display: an admin mints a link; a TV opens it without a login and sees live node
// tiles and the busiest VMs; a bad or revoked token is refused.
// Run: cd end2end && npx playwright test wall.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('a wall link works without login until it is revoked', async ({ page, browser }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await waitForHydration(page);
  await page.getByRole('link', { name: 'Wall' }).click();
  await page.getByPlaceholder(/Name, e.g./).fill('Ops room TV');
  await page.getByRole('button', { name: 'Create link' }).click();
  const link = page.getByTestId('wall-link').locator('a');
  await expect(link).toHaveAttribute('href', /^\/wall\?token=/);
  const href = (await link.getAttribute('href'))!;

  // The TV: a fresh browser with no cookies.
  const tv = await browser.newContext();
  const wall = await tv.newPage();
  await wall.goto(href);
  await expect(wall.getByTestId('wall-status')).toHaveAttribute('data-connected', 'true');
  await expect(wall.locator('[data-node="pve1"]')).toBeVisible();
  await expect(wall.getByTestId('wall-nodes').locator('.tile')).toHaveCount(3);
  await expect(wall.getByTestId('wall-vms').locator('li').first()).toBeVisible();
  expect(await tv.cookies()).toEqual([]);

  // Forged token.
  const forged = await tv.newPage();
  const refused = await forged.goto('/wall?token=not-a-real-token');
  expect(refused?.status()).toBe(403);
  await expect(forged.locator('h1')).toContainText('invalid or has been revoked');
  // The stream refuses it as the page does.
  const stream = await forged.request.get('/api/live?wall=not-a-real-token');
  expect(stream.status()).toBe(403);

  // Revoked.
  await page.locator('tr[data-wall-link="Ops room TV"]').getByRole('button', { name: 'Revoke' }).click();
  await expect(page.locator('tr[data-wall-link="Ops room TV"]')).toContainText('revoked');
  // The wall already on screen stops too (the server checks the link every 10 s).
  await expect(wall.getByTestId('wall-status')).toHaveAttribute('data-state', 'Revoked', {
    timeout: 20_000,
  });
  const again = await tv.newPage();
  expect((await again.goto(href))?.status()).toBe(403);
  await tv.close();
});
