// The harness the real-browser scripts of this folder share: reading the environment, a
// timestamped log, failures, screenshots, Debian's Chromium with console-error capture, the
// app's login form, a watchdog, and the runner that turns the script's steps into an exit code.
//
// A script reads its own env with `env()`, opens a tab with `launch()` and `newPage()` inside
// its steps function, signs in with `logIn(page, email, password)`, and ends with
// `await run(steps)`: exit 0 after "PASS", 1 with "<script>: FAILED: <message>" on stderr and
// a `failure.png`, 2 when an env var is missing.
// Messages are prefixed with the script's file name (connect_oauth, cloud_import, ...).
// Env: APP_URL, SCREENSHOT_DIR (optional), CHROMIUM (default /usr/bin/chromium).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { chromium } from 'playwright-core';

/** The running script's name, for messages: `connect_oauth` for connect_oauth.mjs. */
const NAME = path.basename(process.argv[1] ?? 'browser', '.mjs');

/** The env var `name` (or `fallback`); exits 2 when it is unset or empty. */
export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`${NAME}: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

export const APP_URL = env('APP_URL').replace(/\/+$/, '');
export const APP_ORIGIN = new URL(APP_URL).origin;
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
export const STEP_TIMEOUT_MS = 20_000;
const WATCHDOG_MS = 100_000; // below the Rust side's 120 s, so we still get a screenshot

const started = Date.now();
export const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(2)}s] ${msg}`);

/** A failed check: the runner prints its message alone, without a stack. */
export class Failure extends Error {}
export const fail = (msg) => { throw new Failure(msg); };

export const isApp = (url) => typeof url === 'string' && url.startsWith(APP_ORIGIN);
export const squash = (text) => text.replace(/\s+/g, ' ').trim();

let browser;
let current; // the page a failure screenshot is taken of: the last one newPage() opened
const consoleErrors = [];

/** Saves a full-page screenshot of `page` as SCREENSHOT_DIR/`name` (nothing without the dir). */
export async function screenshot(name, page = current) {
  if (!SCREENSHOT_DIR || !page || page.isClosed()) return;
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, name);
  try {
    // caret: 'initial', because hiding the caret leaves `style=""` on every input, which
    // htmx's settle step (it settles `style`) then copies into swapped-in content: a CSP
    // "inline style" violation that the page would not have without the screenshot.
    await page.screenshot({ path: file, fullPage: true, caret: 'initial', timeout: 10_000 });
    log(`screenshot ${file}`);
  } catch (e) {
    console.error(`${NAME}: screenshot ${file} failed: ${e.message}`);
  }
}

/** Launches Chromium (CHROMIUM) headless; the runner closes it. */
export async function launch() {
  log(`launching ${CHROMIUM}`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // launch() gives every run a fresh, temporary user-data-dir and deletes it on close.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  log(`browser ${browser.version()}`);
  return browser;
}

/**
 * A tab in a fresh browser context (its own cookies), with the step timeouts set and its
 * errors watched: console errors (CSP violations, failed loads, script errors), uncaught
 * exceptions and 5xx answers are logged as they happen and fail the run at its end.
 * `who` prefixes them (for a script with several users); with `appOnly`, only errors on the
 * app's own pages and from its responses count, and console errors elsewhere (an OAuth
 * provider's pages, say) are logged as ignored. It becomes the page of a failure screenshot.
 */
export async function newPage({ who = '', appOnly = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const prefix = who ? `${who}: ` : '';
  const counts = (...urls) => !appOnly || urls.some(isApp);
  const consoleError = (text) => {
    consoleErrors.push(`${prefix}${text}`);
    log(`console error: ${prefix}${text}`);
  };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url || '';
    if (counts(where, page.url())) {
      consoleError(`${msg.text()} (at ${where || '?'}; page ${page.url()})`);
    } else {
      log(`${prefix}console error outside the app (ignored): ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => {
    if (counts(page.url())) consoleError(`uncaught: ${err.message} (page ${page.url()})`);
  });
  page.on('response', (res) => {
    if (res.status() >= 500 && counts(res.url())) {
      consoleError(`HTTP ${res.status()} from ${res.request().method()} ${res.url()}`);
    }
  });
  page.on('dialog', (d) => { log(`${prefix}unexpected dialog: ${d.message()}`); d.dismiss(); });
  current = page;
  return page;
}

/**
 * Logs `page` in through the app's /login form as `email` with `password` and waits for the
 * page it lands on; fails (with the page's `.flash-error`) when it stays on /login. `label`
 * ("admin", "user") starts the log line, for a script with several users. Returns `page`.
 */
export async function logIn(page, email, password, label = '') {
  await page.goto(`${APP_URL}/login`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('form[action="/login"] button[type="submit"]'),
  ]);
  if (new URL(page.url()).pathname === '/login') {
    const err = await page.locator('.flash-error').allInnerTexts();
    fail(`login as ${email} failed: still on ${page.url()} ${JSON.stringify(err)}`);
  }
  log(`${label ? `${label} ` : ''}logged in as ${email}, at ${page.url()}`);
  return page;
}

/**
 * Runs the script's `steps`, then fails if any console error was seen; logs PASS and exits 0,
 * or prints the failure (with the page and the console errors), screenshots `failure.png`
 * and exits 1. A watchdog gives up (screenshot, exit 1) after WATCHDOG_MS.
 */
/** On the test provider's pages (oidc-provider devInteractions): sign in as `login` with any
 * password, then approve the consent page when the provider shows one, and wait to be back
 * on the app. */
export async function signInAtProvider(page, login) {
  const loginInput = page.locator('input[name="login"]');
  await loginInput.waitFor({ state: 'visible' }).catch(async () => {
    fail(`no provider login form at ${page.url()}: ${(await page.content()).slice(0, 2000)}`);
  });
  await loginInput.fill(login);
  await page.fill('input[name="password"]', 'any password');
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator('form:has(input[name="login"]) button[type="submit"]').click(),
  ]);
  // The consent page (skipped by the provider only if consent was already given).
  const consent = page.locator('form:has(input[name="prompt"][value="consent"]) button[type="submit"]');
  if (!isApp(page.url())) {
    await consent.waitFor({ state: 'visible' }).catch(async () => {
      fail(`no consent page at ${page.url()}: ${(await page.content()).slice(0, 2000)}`);
    });
    log(`consent page ${page.url()}`);
    await Promise.all([page.waitForURL((u) => u.origin === APP_ORIGIN), consent.click()]);
  }
}

export async function run(steps) {
  let code = 0;
  const watchdog = setTimeout(async () => {
    console.error(`${NAME}: FAILED: gave up after ${WATCHDOG_MS / 1000}s (at ${current?.url()})`);
    await screenshot('failure.png');
    await browser?.close().catch(() => {});
    process.exit(1);
  }, WATCHDOG_MS);

  try {
    await steps();
    if (consoleErrors.length) fail(`console errors:\n  ${consoleErrors.join('\n  ')}`);
    log('PASS');
  } catch (e) {
    code = 1;
    console.error(`${NAME}: FAILED: ${e instanceof Failure ? e.message : e.stack || e}`);
    if (current) console.error(`  page: ${current.url()}`);
    if (consoleErrors.length && !e.message?.startsWith('console errors')) {
      console.error(`  console errors:\n    ${consoleErrors.join('\n    ')}`);
    }
    await screenshot('failure.png');
  } finally {
    clearTimeout(watchdog);
    await browser?.close().catch(() => {});
  }
  process.exit(code);
}
