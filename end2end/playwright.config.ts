// Cecyber end-to-end tests: Playwright driving Debian's headless Chromium against a Cecyber
// server in demo mode (built-in simulated cluster).
// Run from the repository root with `.ci/test` (builds everything first), or here with
// `npx playwright test` once `target/debug/cecyber` and `target/site` are built.
// Set CECYBER_BASE_URL to test an already running server instead of starting one.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.CECYBER_E2E_PORT ?? 3300);
const baseURL = process.env.CECYBER_BASE_URL ?? `http://127.0.0.1:${port}`;
// A second server whose simulated VMs are real QEMU VMs (qemu.spec.ts).
const qemuPort = port + 100;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  // Two cores: one browser at a time keeps timings honest.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL,
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: process.env.CECYBER_BASE_URL
    ? undefined
    : [
        {
          command: `./start-server.sh ${port}`,
          url: `${baseURL}/healthz`,
          timeout: 120_000,
          reuseExistingServer: false,
          stdout: 'pipe',
          stderr: 'pipe',
        },
        {
          command: `./start-server.sh ${qemuPort} qemu`,
          url: `http://127.0.0.1:${qemuPort}/healthz`,
          timeout: 120_000,
          reuseExistingServer: false,
          stderr: 'pipe',
        },
      ],
});
