// Cecyber end-to-end tests: Playwright driving Debian's headless Chromium against a Cecyber
// server in demo mode (built-in simulated cluster).
// Run from the repository root with `.ci/test` (builds everything first), or here with
// `npx playwright test` once `target/debug/cecyber` and `target/site` are built.
// Set CECYBER_BASE_URL to test an already running server instead of starting one.
// proxy.spec.ts (project `proxy`) needs /usr/sbin/nginx (.ci/lib.sh's need_nginx); it is left
// out when CECYBER_BASE_URL is set.
import { defineConfig } from '@playwright/test';

const port = Number(process.env.CECYBER_E2E_PORT ?? 3300);
const baseURL = process.env.CECYBER_BASE_URL ?? `http://127.0.0.1:${port}`;
// A second server whose simulated VMs are real QEMU VMs (qemu.spec.ts).
const qemuPort = port + 100;
// nginx with the README's recipe (nginx/cecyber.conf, HTTPS) in front of a third server
// (proxy.spec.ts).
const proxyPort = port + 90;
const proxiedPort = port + 80;
const proxyURL = `https://127.0.0.1:${proxyPort}`;

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
  // proxy.spec.ts runs only through nginx, the other specs only against the server itself.
  projects: [
    { name: 'direct', testIgnore: /proxy\.spec\.ts$/ },
    ...(process.env.CECYBER_BASE_URL
      ? []
      : [{ name: 'proxy', testMatch: /proxy\.spec\.ts$/, use: { baseURL: proxyURL, ignoreHTTPSErrors: true } }]),
  ],
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
        {
          command: `./start-server.sh ${proxiedPort}`,
          url: `http://127.0.0.1:${proxiedPort}/healthz`,
          // nginx hands on Host: cecyber (its upstream's name): the origin checks need
          // public_url; X-Forwarded-* count only from a trusted proxy (nginx, on the loopback).
          env: { CECYBER_PUBLIC_URL: proxyURL, CECYBER_TRUSTED_PROXIES: '127.0.0.1' },
          timeout: 120_000,
          reuseExistingServer: false,
          stderr: 'pipe',
        },
        {
          command: `./start-nginx.sh ${proxyPort} ${proxiedPort}`,
          url: `${proxyURL}/healthz`,
          ignoreHTTPSErrors: true,
          timeout: 30_000,
          reuseExistingServer: false,
          stderr: 'pipe',
        },
      ],
});
