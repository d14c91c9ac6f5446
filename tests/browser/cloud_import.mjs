// Real-browser check of the cloud-import acceptance path: log in, open a knowledge folder,
// press "Import from cloud", browse a Google Drive connection (the fake Drive of
// testkit/src/drive/), page the top of My Drive with "Load more", tick and untick every
// file with the select-all box, open a subfolder (breadcrumbs follow), tick two files, press
// "Import selected", see the confirmation, and wait until both rows of the file list say
// `ready` (the list polls while files are pending; the app's queue worker downloads them).
//
// Run by tests/api/browser.rs (which starts the app, seeds the fake Drive and inserts the
// connection); the Rust side then checks the stored bytes and the downloads the fake saw.
// The shared harness (launch, logging, screenshots, exit codes) is harness.mjs.
// Env: APP_URL, EMAIL, PASSWORD, FOLDER_NAME, ACCOUNT (the connection's identity), SUBFOLDER,
// PICKS (JSON list of file names in SUBFOLDER to import), TOP_FILES (how many files sit at the
// top of My Drive, more than one page), SERVICE (default Google Drive), SCREENSHOT_DIR
// (optional), CHROMIUM (default /usr/bin/chromium). Exits 0 on success, 1 with a message.
import {
  APP_URL, STEP_TIMEOUT_MS, env, fail, launch, log, newPage, run, screenshot, squash,
} from './harness.mjs';

const EMAIL = env('EMAIL');
const PASSWORD = env('PASSWORD');
const FOLDER_NAME = env('FOLDER_NAME');
const ACCOUNT = env('ACCOUNT');
const SUBFOLDER = env('SUBFOLDER');
const PICKS = JSON.parse(env('PICKS'));
const TOP_FILES = Number(env('TOP_FILES'));
const SERVICE = env('SERVICE', 'Google Drive');
const READY_TIMEOUT_MS = 60_000; // both files downloaded, stored and marked ready

let page; // the one tab, opened by steps()

/** Waits for `locator` to be visible, failing with `what` and the panel's text if it is not. */
async function expectVisible(locator, what, timeout = STEP_TIMEOUT_MS) {
  await locator.first().waitFor({ state: 'visible', timeout }).catch(async () => {
    const panel = await page.locator('#cloud-import').innerText().catch(() => '(gone)');
    fail(`${what} did not appear; #cloud-import says ${JSON.stringify(squash(panel))}`);
  });
}

/** Clicks `target` (an htmx GET or POST) and returns the response to the request it sends. */
async function htmxClick(target, matches, what) {
  const response = page.waitForResponse((r) => matches(r) && r.request().headers()['hx-request'] === 'true');
  await target.click();
  const res = await response;
  log(`${what}: ${res.request().method()} ${new URL(res.url()).pathname} → ${res.status()}`);
  return res;
}

const isBrowse = (r) => r.request().method() === 'GET' && new URL(r.url()).pathname.endsWith('/browse/');

/** The current breadcrumb trail, as the user reads it. */
const crumbs = async () => squash(await page.locator('#cloud-import nav.crumbs').innerText());

/** The names of the file rows in the import form (from their checkboxes' labels). */
const fileNames = () => page.locator('#cloud-import-form input[type=checkbox][name=file]')
  .evaluateAll((boxes) => boxes.map((b) => b.getAttribute('aria-label').replace(/^Select /, '')));

/** How many file checkboxes of the import form are ticked, and how many there are. */
const ticked = () => page.locator('#cloud-import-form').evaluate((form) => {
  const boxes = [...form.querySelectorAll('input[type=checkbox][name=file]')];
  return { checked: boxes.filter((b) => b.checked).length, total: boxes.length };
});

async function steps() {
  if (!Array.isArray(PICKS) || PICKS.length === 0) fail('PICKS must be a non-empty JSON list');
  await launch();
  // Every page here is the app's, so every console error counts (CSP violations, missing
  // icons, 4xx/5xx answers to htmx requests, script errors).
  page = await newPage();

  // 1. Log in.
  await page.goto(`${APP_URL}/login`);
  await page.fill('input[name="email"]', EMAIL);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.click('form[action="/login"] button[type="submit"]'),
  ]);
  if (new URL(page.url()).pathname === '/login') {
    const err = await page.locator('.flash-error').allInnerTexts();
    fail(`login as ${EMAIL} failed: still on ${page.url()} ${JSON.stringify(err)}`);
  }
  log(`logged in as ${EMAIL}`);

  // 2. The knowledge folder, from the list of folders.
  await page.goto(`${APP_URL}/knowledge-folders/`);
  const folderLink = page.locator('ul.folder-list a', { hasText: FOLDER_NAME });
  if ((await folderLink.count()) !== 1) {
    fail(`no link to "${FOLDER_NAME}" on /knowledge-folders/: ${JSON.stringify(await page.locator('ul.folder-list').allInnerTexts())}`);
  }
  await Promise.all([
    page.waitForURL(/\/knowledge-folders\/\d+\/$/),
    folderLink.click(),
  ]);
  await page.waitForLoadState('load');
  const folderPath = new URL(page.url()).pathname;
  const h1 = squash(await page.locator('h1').innerText());
  if (h1 !== FOLDER_NAME) fail(`the folder page's heading is ${JSON.stringify(h1)}`);
  const htmxVersion = await page.evaluate(() => typeof window.htmx === 'object' && window.htmx.version);
  if (!htmxVersion) fail(`htmx did not load on ${folderPath}`);
  if ((await page.locator('#files tbody tr').count()) !== 0) fail('the new folder already lists files');
  log(`at ${folderPath} (htmx ${htmxVersion})`);

  // 3. "Import from cloud": the services, with a Browse button for the connection.
  const opened = await htmxClick(page.locator('#open-cloud-import'),
    (r) => new URL(r.url()).pathname.endsWith('/cloud-import/'), 'Import from cloud');
  if (opened.status() !== 200) fail(`the service list answered ${opened.status()}`);
  const service = page.locator('#cloud-import li.cloud-service', { has: page.locator('strong', { hasText: SERVICE }) });
  await expectVisible(service, `the ${SERVICE} service`);
  const browseButton = service.getByRole('button', { name: `Browse ${ACCOUNT}`, exact: true });
  if ((await browseButton.count()) !== 1) fail(`${SERVICE} offers no "Browse ${ACCOUNT}": ${JSON.stringify(squash(await service.innerText()))}`);
  await screenshot('01-services.png');

  // 4. Browse: the top level is Drive's places (folders only, so select-all is off).
  const top = await htmxClick(browseButton, isBrowse, `Browse ${ACCOUNT}`);
  if (top.status() !== 200) fail(`browsing answered ${top.status()}`);
  await expectVisible(page.locator('#cloud-import table.cloud-files'), 'the file table');
  const places = (await page.locator('#cloud-import tr.cloud-folder a[hx-get]').allInnerTexts()).map(squash);
  log(`top level: ${JSON.stringify(places)}`);
  if (!places.includes('My Drive')) fail(`the top level has no "My Drive": ${JSON.stringify(places)}`);
  if (!(await page.locator('#cloud-import [data-select-all]').isDisabled())) {
    fail('select-all is enabled on a page without files');
  }

  // 5. My Drive: one page of 100 (folders first), then "Load more" appends the rest.
  await htmxClick(page.locator('#cloud-import tr.cloud-folder a[hx-get]', { hasText: 'My Drive' }), isBrowse, 'open My Drive');
  await expectVisible(page.locator('#cloud-import nav.crumbs [aria-current="page"]', { hasText: 'My Drive' }), 'the My Drive breadcrumb');
  const subfolderRow = page.locator('#cloud-import tr.cloud-folder', { hasText: SUBFOLDER });
  if ((await subfolderRow.count()) !== 1) fail(`My Drive does not list the folder "${SUBFOLDER}"`);
  const firstPage = await page.locator('#cloud-import tr.cloud-file').count();
  const folders = await page.locator('#cloud-import tr.cloud-folder').count();
  log(`My Drive, first page: ${folders} folder(s), ${firstPage} file(s); crumbs ${JSON.stringify(await crumbs())}`);
  if (folders + firstPage !== 100) fail(`the first page should hold 100 items, it holds ${folders + firstPage}`);
  const loadMore = page.locator('#cloud-import tr.load-more button', { hasText: 'Load more' });
  if ((await loadMore.count()) !== 1) fail('no "Load more" on a folder of more than 100 items');
  await screenshot('02-my-drive.png');
  const more = await htmxClick(loadMore, isBrowse, 'Load more');
  if (more.status() !== 200) fail(`"Load more" answered ${more.status()}`);
  await page.locator('#cloud-import tr.load-more').waitFor({ state: 'detached' }).catch(() => fail('the "Load more" row stayed after the last page'));
  await page.waitForFunction(
    (n) => document.querySelectorAll('#cloud-import-form tbody tr.cloud-file').length === n,
    TOP_FILES,
  ).catch(async () => fail(`after "Load more" the form holds ${await page.locator('#cloud-import-form tbody tr.cloud-file').count()} file rows, not ${TOP_FILES}`));
  const names = await fileNames();
  if (new Set(names).size !== TOP_FILES) fail(`"Load more" repeated rows: ${new Set(names).size} distinct of ${TOP_FILES}`);
  log(`after Load more: ${TOP_FILES} files, all distinct`);

  // 6. Select-all ticks every file box in the form (the appended page too), and unticks them.
  const selectAll = page.locator('#cloud-import [data-select-all]');
  await selectAll.check();
  let boxes = await ticked();
  if (boxes.checked !== TOP_FILES || boxes.total !== TOP_FILES) fail(`select-all ticked ${boxes.checked} of ${boxes.total} boxes, expected ${TOP_FILES}`);
  log(`select-all ticked ${boxes.checked} of ${boxes.total}`);
  await screenshot('03-select-all.png');
  await selectAll.uncheck();
  boxes = await ticked();
  if (boxes.checked !== 0) fail(`unticking select-all left ${boxes.checked} boxes ticked`);
  log('select-all unticked every box');

  // 7. Into the subfolder: the breadcrumbs end with it, My Drive becomes a link.
  await htmxClick(subfolderRow.locator('a[hx-get]', { hasText: SUBFOLDER }), isBrowse, `open ${SUBFOLDER}`);
  await expectVisible(page.locator('#cloud-import nav.crumbs [aria-current="page"]', { hasText: SUBFOLDER }), `the "${SUBFOLDER}" breadcrumb`);
  const trail = await crumbs();
  if (trail !== `${SERVICE} / My Drive / ${SUBFOLDER}`) fail(`the breadcrumbs read ${JSON.stringify(trail)}`);
  if ((await page.locator('#cloud-import nav.crumbs a', { hasText: 'My Drive' }).count()) !== 1) fail('"My Drive" is not a link in the breadcrumbs');
  const inside = await fileNames();
  log(`${SUBFOLDER}: ${JSON.stringify(inside)}; crumbs ${JSON.stringify(trail)}`);
  if (inside.length < PICKS.length + 1) fail(`${SUBFOLDER} should list more files than the ${PICKS.length} picked`);
  if ((await page.locator('#cloud-import tr.load-more').count()) !== 0) fail(`${SUBFOLDER} offers "Load more" for a few files`);
  if ((await ticked()).checked !== 0) fail('boxes are ticked on a freshly opened folder');
  await screenshot('04-subfolder.png');

  // 8. Tick the picks and import them.
  for (const name of PICKS) {
    const box = page.getByRole('checkbox', { name: `Select ${name}`, exact: true });
    if ((await box.count()) !== 1) fail(`no checkbox "Select ${name}" in ${SUBFOLDER}`);
    await box.check();
  }
  boxes = await ticked();
  if (boxes.checked !== PICKS.length) fail(`${boxes.checked} boxes are ticked, expected ${PICKS.length}`);
  const partly = await page.locator('#cloud-import [data-select-all]').evaluate((b) => b.indeterminate && !b.checked);
  if (!partly) fail('select-all does not show that some files are ticked');
  await screenshot('05-ticked.png');
  const imported = await htmxClick(page.getByRole('button', { name: 'Import selected', exact: true }),
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/import/'), 'Import selected');
  if (imported.status() !== 202) fail(`the import answered ${imported.status()}: ${await imported.text()}`);
  const confirmation = page.locator('#cloud-import .flash-success');
  await expectVisible(confirmation, 'the import confirmation');
  const said = squash(await confirmation.innerText());
  const expected = `Importing ${PICKS.length} files from ${SERVICE}.`;
  if (!said.includes(expected)) fail(`the confirmation says ${JSON.stringify(said)}, expected ${JSON.stringify(expected)}`);
  const listed = (await page.locator('#cloud-import ul.cloud-imported li').allInnerTexts()).map(squash);
  if (JSON.stringify([...listed].sort()) !== JSON.stringify([...PICKS].sort())) fail(`the confirmation lists ${JSON.stringify(listed)}`);
  log(`confirmation: ${JSON.stringify(said)}`);
  await screenshot('06-imported.png');

  // 9. The file list refreshes (files-changed) and polls until both rows say ready.
  const outcome = await page.waitForFunction((picks) => {
    const seen = (window.__statusesSeen ??= {});
    const rows = [...document.querySelectorAll('#files tbody tr')];
    const status = {};
    for (const row of rows) {
      const name = row.cells[0]?.innerText.trim();
      const badge = row.querySelector('span.status');
      if (!picks.includes(name) || !badge) continue;
      status[name] = badge.innerText.trim();
      const trail = (seen[name] ??= []);
      if (trail.at(-1) !== status[name]) trail.push(status[name]);
    }
    const values = picks.map((p) => status[p]);
    if (values.includes('failed')) return { done: false, rows: rows.map((r) => r.innerText), seen };
    if (values.every((v) => v === 'ready')) return { done: true, rows: rows.map((r) => r.innerText), seen };
    return false;
  }, PICKS, { timeout: READY_TIMEOUT_MS, polling: 100 }).catch(async () => {
    fail(`the file list did not show ${JSON.stringify(PICKS)} as ready within ${READY_TIMEOUT_MS / 1000}s: ${JSON.stringify(squash(await page.locator('#files').innerText().catch(() => '(gone)')))}`);
  });
  const result = await outcome.jsonValue();
  log(`statuses seen: ${JSON.stringify(result.seen)}`);
  if (!result.done) fail(`an import failed: ${JSON.stringify(result.rows.map(squash))}`);
  for (const name of PICKS) {
    const row = page.locator('#files tbody tr', { has: page.locator('td:first-child', { hasText: name }) });
    if ((await row.locator('span.status.status-ready').count()) !== 1) fail(`the row of ${name} has no span.status.status-ready`);
  }
  const rowCount = await page.locator('#files tbody tr').count();
  if (rowCount !== PICKS.length) fail(`the file list has ${rowCount} rows, expected ${PICKS.length}`);
  log(`file list: ${JSON.stringify(result.rows.map(squash))}`);
  if (new URL(page.url()).pathname !== folderPath) fail(`the flow navigated away to ${page.url()}`);
  const htmxErrors = squash(await page.locator('#htmx-errors').innerText());
  if (htmxErrors) fail(`#htmx-errors shows ${JSON.stringify(htmxErrors)}`);
  await screenshot('07-ready.png');
}

await run(steps);
