// Shared steps for the end-to-end specs.
import { APIRequestContext, expect, Page } from '@playwright/test';

/** The admin password start-server.sh gives the demo server. */
export const ADMIN_PASSWORD = 'e2e-admin-secret';

/** Logs in through the login form and waits for the VM list. */
export async function login(page: Page, username: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('vm-table')).toBeVisible();
  await expect(page.getByTestId('current-user')).toHaveText(username);
}

/** Waits until the page is hydrated (the WASM app took over the server-rendered HTML). */
export async function waitForHydration(page: Page) {
  await page.waitForFunction(() => (window as any).__cecyber_hydrated === true);
}

/** Where the server under test runs (as in playwright.config.ts). */
export const BASE_URL =
  process.env.CECYBER_BASE_URL ?? `http://127.0.0.1:${process.env.CECYBER_E2E_PORT ?? 3300}`;

/** The demo simulator's own address (start-server.sh puts it on the next port), for its test
 * controls under /_sim. */
export const SIM_URL = `https://127.0.0.1:${Number(new URL(BASE_URL).port) + 1}`;

/** Replaces the demo simulator's fault settings (`POST /_sim/fault`; `{}` clears them all). */
export async function simFault(request: APIRequestContext, faults: Record<string, unknown>) {
  const response = await request.post(`${SIM_URL}/_sim/fault`, { data: faults, ignoreHTTPSErrors: true });
  expect(response.ok(), await response.text()).toBe(true);
}
