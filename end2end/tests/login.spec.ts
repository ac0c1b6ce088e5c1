// Login and logout. Run: cd end2end && npx playwright test login.spec.ts
import { test, expect } from '@playwright/test';
import { ADMIN_PASSWORD, login, waitForHydration } from './helpers';

test('pages need a login', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId('demo-banner')).toBeVisible();
});

test('a wrong password is refused without saying which part was wrong', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  const started = Date.now();
  await page.getByRole('button', { name: 'Log in' }).click();
  const error = page.getByTestId('login-error');
  await expect(error).toHaveText('Invalid username or password.');
  // The server waits before refusing, against guessing.
  expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  await expect(page).toHaveURL(/\/login$/);

  // An unknown user gets exactly the same answer.
  await page.getByLabel('Username').fill('nobody');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(error).toHaveText('Invalid username or password.');
});

test('the admin logs in, sees the demo banner, and logs out', async ({ page }) => {
  await login(page, 'admin', ADMIN_PASSWORD);
  await expect(page.getByTestId('demo-banner')).toContainText('Demo — simulated cluster');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'cecyber_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('the login page loads the lite bundle, the panel the whole application', async ({ page }) => {
  // Every wasm file the page fetches.
  const wasm: string[] = [];
  page.on('response', (response) => {
    if (response.url().endsWith('.wasm')) wasm.push(response.url());
  });
  const size = async (url: string) => (await (await page.request.get(url)).body()).length;
  await page.goto('/login');
  await waitForHydration(page);
  await expect.poll(() => wasm.length).toBe(1);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('vm-table')).toBeVisible();
  await waitForHydration(page);
  await expect.poll(() => wasm.length).toBe(2);
  const [lite, panel] = wasm;
  expect(new URL(lite).pathname).not.toBe(new URL(panel).pathname);
  // Only the login and embed routes are in the lite bundle (app::assets::LITE_PAGES).
  expect(await size(lite)).toBeLessThan((await size(panel)) / 2);
});
