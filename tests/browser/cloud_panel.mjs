// The cloud-import panel of a knowledge folder's page, as the import scripts drive it
// (cloud_import.mjs with the fake Google Drive, canvas_import.mjs with the fake Canvas): open
// the folder from /knowledge-folders/, open "Import from cloud" and browse a connection, read
// the listing (breadcrumbs, folder and file names, ticked boxes), open folders, tick files and
// import them, and wait until the file list shows every import `ready`.
//
// Every helper takes the page (or a locator on it) and fails the run with harness.mjs's
// fail(), quoting what the page showed instead.
import { APP_URL, STEP_TIMEOUT_MS, fail, log, screenshot, squash } from './harness.mjs';

/** Whether `r` answers an htmx listing of the panel (a folder, a page of one, the top level). */
export const isBrowse = (r) => r.request().method() === 'GET' && new URL(r.url()).pathname.endsWith('/browse/');
/** Whether `r` answers the panel's "Import selected". */
export const isImport = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/import/');

/** Waits for `locator` to be visible, failing with `what` and the panel's text if it is not. */
export async function expectVisible(locator, what, timeout = STEP_TIMEOUT_MS) {
  await locator.first().waitFor({ state: 'visible', timeout }).catch(async () => {
    const panel = await locator.page().locator('#cloud-import').innerText().catch(() => '(gone)');
    fail(`${what} did not appear; #cloud-import says ${JSON.stringify(squash(panel))}`);
  });
}

/** Clicks `target` (an htmx GET or POST) and returns the response to the request it sends. */
export async function htmxClick(target, matches, what) {
  const response = target.page().waitForResponse((r) => matches(r) && r.request().headers()['hx-request'] === 'true');
  await target.click();
  const res = await response;
  log(`${what}: ${res.request().method()} ${new URL(res.url()).pathname} → ${res.status()}`);
  return res;
}

/** The current breadcrumb trail, as the user reads it. */
export const crumbs = async (page) => squash(await page.locator('#cloud-import nav.crumbs').innerText());

/** The names of the folder rows of the current listing (their links' text). */
export const folderNames = async (page) => (await page.locator('#cloud-import tr.cloud-folder a[hx-get]').allInnerTexts()).map(squash);

/** The names of the file rows in the import form (from their checkboxes' labels). */
export const fileNames = (page) => page.locator('#cloud-import-form input[type=checkbox][name=file]')
  .evaluateAll((boxes) => boxes.map((b) => b.getAttribute('aria-label').replace(/^Select /, '')));

/** How many file checkboxes of the import form are ticked, and how many there are. */
export const ticked = (page) => page.locator('#cloud-import-form').evaluate((form) => {
  const boxes = [...form.querySelectorAll('input[type=checkbox][name=file]')];
  return { checked: boxes.filter((b) => b.checked).length, total: boxes.length };
});

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Opens the knowledge folder `name` from the list on /knowledge-folders/ and checks its page:
 * the heading, htmx loaded, no files yet. Returns the folder page's path.
 */
export async function openKnowledgeFolder(page, name) {
  await page.goto(`${APP_URL}/knowledge-folders/`);
  const folderLink = page.locator('ul.folder-list a', { hasText: name });
  if ((await folderLink.count()) !== 1) {
    fail(`no link to "${name}" on /knowledge-folders/: ${JSON.stringify(await page.locator('ul.folder-list').allInnerTexts())}`);
  }
  await Promise.all([
    page.waitForURL(/\/knowledge-folders\/\d+\/$/),
    folderLink.click(),
  ]);
  await page.waitForLoadState('load');
  const folderPath = new URL(page.url()).pathname;
  const h1 = squash(await page.locator('h1').innerText());
  if (h1 !== name) fail(`the folder page's heading is ${JSON.stringify(h1)}`);
  const htmxVersion = await page.evaluate(() => typeof window.htmx === 'object' && window.htmx.version);
  if (!htmxVersion) fail(`htmx did not load on ${folderPath}`);
  if ((await page.locator('#files tbody tr').count()) !== 0) fail('the new folder already lists files');
  log(`at ${folderPath} (htmx ${htmxVersion})`);
  return folderPath;
}

/**
 * On the folder page: presses "Import from cloud", finds `service` with a "Browse `account`"
 * button, screenshots the service list as `shot`, presses Browse and waits for the top level's
 * file table.
 */
export async function browseConnection(page, { service, account, shot }) {
  const opened = await htmxClick(page.locator('#open-cloud-import'),
    (r) => new URL(r.url()).pathname.endsWith('/cloud-import/'), 'Import from cloud');
  if (opened.status() !== 200) fail(`the service list answered ${opened.status()}`);
  const card = page.locator('#cloud-import li.cloud-service', { has: page.locator('strong', { hasText: service }) });
  await expectVisible(card, `the ${service} service`);
  const browseButton = card.getByRole('button', { name: `Browse ${account}`, exact: true });
  if ((await browseButton.count()) !== 1) fail(`${service} offers no "Browse ${account}": ${JSON.stringify(squash(await card.innerText()))}`);
  await screenshot(shot, page);
  const top = await htmxClick(browseButton, isBrowse, `Browse ${account}`);
  if (top.status() !== 200) fail(`browsing answered ${top.status()}`);
  await expectVisible(page.locator('#cloud-import table.cloud-files'), 'the file table');
}

/** Opens the folder row named `name` of the current listing; waits for its breadcrumb. */
export async function openFolder(page, name) {
  const link = page.locator('#cloud-import tr.cloud-folder a[hx-get]').filter({ hasText: new RegExp(`^\\s*${escapeRe(name)}\\s*$`) });
  if ((await link.count()) !== 1) fail(`no single folder row "${name}"; folders: ${JSON.stringify(await folderNames(page))}; crumbs ${JSON.stringify(await crumbs(page))}`);
  const res = await htmxClick(link, isBrowse, `open ${name}`);
  if (res.status() !== 200) fail(`opening "${name}" answered ${res.status()}`);
  await expectVisible(page.locator('#cloud-import nav.crumbs [aria-current="page"]', { hasText: name }), `the "${name}" breadcrumb`);
}

/**
 * Ticks `names` in the current listing (`where`, for messages), presses "Import selected" and
 * checks the answer: 202 and a confirmation "Importing N file(s) from `service`." listing them.
 * Screenshots `shots.ticked` before the import and `shots.imported` after it.
 */
export async function importPicks(page, names, { where, service, shots }) {
  if ((await ticked(page)).checked !== 0) fail(`boxes are ticked on a freshly opened ${where}`);
  for (const name of names) {
    const box = page.getByRole('checkbox', { name: `Select ${name}`, exact: true });
    if ((await box.count()) !== 1) fail(`no checkbox "Select ${name}" in ${where}: ${JSON.stringify(await fileNames(page))}`);
    if (await box.isDisabled()) fail(`the checkbox of ${name} in ${where} is disabled`);
    await box.check();
  }
  const boxes = await ticked(page);
  if (boxes.checked !== names.length) fail(`${boxes.checked} boxes are ticked in ${where}, expected ${names.length}`);
  if (boxes.total > names.length) {
    const partly = await page.locator('#cloud-import [data-select-all]').evaluate((b) => b.indeterminate && !b.checked);
    if (!partly) fail(`select-all in ${where} does not show that some files are ticked`);
  }
  await screenshot(shots.ticked, page);
  const imported = await htmxClick(page.getByRole('button', { name: 'Import selected', exact: true }), isImport, `Import selected (${where})`);
  if (imported.status() !== 202) fail(`the import from ${where} answered ${imported.status()}: ${await imported.text()}`);
  const confirmation = page.locator('#cloud-import .flash-success');
  await expectVisible(confirmation, `the import confirmation for ${where}`);
  const said = squash(await confirmation.innerText());
  const expected = `Importing ${names.length} ${names.length === 1 ? 'file' : 'files'} from ${service}.`;
  if (!said.includes(expected)) fail(`the confirmation says ${JSON.stringify(said)}, expected ${JSON.stringify(expected)}`);
  const listed = (await page.locator('#cloud-import ul.cloud-imported li').allInnerTexts()).map(squash);
  if (JSON.stringify([...listed].sort()) !== JSON.stringify([...names].sort())) fail(`the confirmation lists ${JSON.stringify(listed)}, expected ${JSON.stringify(names)}`);
  log(`confirmation: ${JSON.stringify(said)} ${JSON.stringify(listed)}`);
  await screenshot(shots.imported, page);
}

/**
 * Waits until the folder page's file list (which refreshes on files-changed and polls while
 * files are pending) shows every name of `picks` with the status `ready`, failing at once when
 * one says `failed` and after `timeoutMs` otherwise. Then checks each row's
 * span.status.status-ready, that the list holds just the picks, that the page is still
 * `folderPath`, and that #htmx-errors is empty. Logs the statuses each pick went through.
 */
export async function waitUntilReady(page, picks, { timeoutMs = 60_000, folderPath }) {
  const outcome = await page.waitForFunction((names) => {
    const seen = (window.__statusesSeen ??= {});
    const rows = [...document.querySelectorAll('#files tbody tr')];
    const status = {};
    for (const row of rows) {
      const name = row.cells[0]?.innerText.trim();
      const badge = row.querySelector('span.status');
      if (!names.includes(name) || !badge) continue;
      status[name] = badge.innerText.trim();
      const trail = (seen[name] ??= []);
      if (trail.at(-1) !== status[name]) trail.push(status[name]);
    }
    const values = names.map((p) => status[p]);
    if (values.includes('failed')) return { done: false, rows: rows.map((r) => r.innerText), seen };
    if (values.every((v) => v === 'ready')) return { done: true, rows: rows.map((r) => r.innerText), seen };
    return false;
  }, picks, { timeout: timeoutMs, polling: 100 }).catch(async () => {
    fail(`the file list did not show ${JSON.stringify(picks)} as ready within ${timeoutMs / 1000}s: ${JSON.stringify(squash(await page.locator('#files').innerText().catch(() => '(gone)')))}`);
  });
  const result = await outcome.jsonValue();
  log(`statuses seen: ${JSON.stringify(result.seen)}`);
  if (!result.done) fail(`an import failed: ${JSON.stringify(result.rows.map(squash))}`);
  for (const name of picks) {
    const row = page.locator('#files tbody tr', { has: page.locator('td:first-child', { hasText: name }) });
    if ((await row.locator('span.status.status-ready').count()) !== 1) fail(`the row of ${name} has no span.status.status-ready`);
  }
  const rowCount = await page.locator('#files tbody tr').count();
  if (rowCount !== picks.length) fail(`the file list has ${rowCount} rows, expected ${picks.length}`);
  log(`file list: ${JSON.stringify(result.rows.map(squash))}`);
  if (new URL(page.url()).pathname !== folderPath) fail(`the flow navigated away to ${page.url()}`);
  const htmxErrors = squash(await page.locator('#htmx-errors').innerText());
  if (htmxErrors) fail(`#htmx-errors shows ${JSON.stringify(htmxErrors)}`);
}
