// Real-browser check of the cloud-import acceptance path: log in, open a knowledge folder,
// press "Import from cloud", browse a Google Drive connection (the fake Drive of
// testkit/src/drive/), page the top of My Drive with "Load more", tick and untick every
// file with the select-all box, open a subfolder (breadcrumbs follow), tick two files, press
// "Import selected", see the confirmation, and wait until both rows of the file list say
// `ready` (the list polls while files are pending; the app's queue worker downloads them).
//
// Run by tests/api/browser.rs (which starts the app, seeds the fake Drive and inserts the
// connection); the Rust side then checks the stored bytes and the downloads the fake saw.
// The shared harness (launch, login, logging, screenshots, exit codes) is harness.mjs; the
// cloud-import panel's helpers (browsing, ticking, importing, waiting for `ready`) are
// cloud_panel.mjs.
// Env: APP_URL, EMAIL, PASSWORD, FOLDER_NAME, ACCOUNT (the connection's identity), SUBFOLDER,
// PICKS (JSON list of file names in SUBFOLDER to import), TOP_FILES (how many files sit at the
// top of My Drive, more than one page), SERVICE (default Google Drive), SCREENSHOT_DIR
// (optional), CHROMIUM (default /usr/bin/chromium). Exits 0 on success, 1 with a message.
import { env, fail, launch, log, logIn, newPage, run, screenshot } from './harness.mjs';
import {
  browseConnection, crumbs, fileNames, folderNames, htmxClick, importPicks, isBrowse,
  openFolder, openKnowledgeFolder, ticked, waitUntilReady,
} from './cloud_panel.mjs';

const EMAIL = env('EMAIL');
const PASSWORD = env('PASSWORD');
const FOLDER_NAME = env('FOLDER_NAME');
const ACCOUNT = env('ACCOUNT');
const SUBFOLDER = env('SUBFOLDER');
const PICKS = JSON.parse(env('PICKS'));
const TOP_FILES = Number(env('TOP_FILES'));
const SERVICE = env('SERVICE', 'Google Drive');
const READY_TIMEOUT_MS = 60_000; // both files downloaded, stored and marked ready

async function steps() {
  if (!Array.isArray(PICKS) || PICKS.length === 0) fail('PICKS must be a non-empty JSON list');
  await launch();
  // Every page here is the app's, so every console error counts (CSP violations, missing
  // icons, 4xx/5xx answers to htmx requests, script errors).
  const page = await newPage();

  // 1. Log in.
  await logIn(page, EMAIL, PASSWORD);

  // 2. The knowledge folder, from the list of folders.
  const folderPath = await openKnowledgeFolder(page, FOLDER_NAME);

  // 3. "Import from cloud": the services, with a Browse button for the connection; browse it.
  // 4. The top level is Drive's places (folders only, so select-all is off).
  await browseConnection(page, { service: SERVICE, account: ACCOUNT, shot: '01-services.png' });
  const places = await folderNames(page);
  log(`top level: ${JSON.stringify(places)}`);
  if (!places.includes('My Drive')) fail(`the top level has no "My Drive": ${JSON.stringify(places)}`);
  if (!(await page.locator('#cloud-import [data-select-all]').isDisabled())) {
    fail('select-all is enabled on a page without files');
  }

  // 5. My Drive: one page of 100 (folders first), then "Load more" appends the rest.
  await openFolder(page, 'My Drive');
  const subfolderRow = page.locator('#cloud-import tr.cloud-folder', { hasText: SUBFOLDER });
  if ((await subfolderRow.count()) !== 1) fail(`My Drive does not list the folder "${SUBFOLDER}"`);
  const firstPage = await page.locator('#cloud-import tr.cloud-file').count();
  const folders = await page.locator('#cloud-import tr.cloud-folder').count();
  log(`My Drive, first page: ${folders} folder(s), ${firstPage} file(s); crumbs ${JSON.stringify(await crumbs(page))}`);
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
  const names = await fileNames(page);
  if (new Set(names).size !== TOP_FILES) fail(`"Load more" repeated rows: ${new Set(names).size} distinct of ${TOP_FILES}`);
  log(`after Load more: ${TOP_FILES} files, all distinct`);

  // 6. Select-all ticks every file box in the form (the appended page too), and unticks them.
  const selectAll = page.locator('#cloud-import [data-select-all]');
  await selectAll.check();
  let boxes = await ticked(page);
  if (boxes.checked !== TOP_FILES || boxes.total !== TOP_FILES) fail(`select-all ticked ${boxes.checked} of ${boxes.total} boxes, expected ${TOP_FILES}`);
  log(`select-all ticked ${boxes.checked} of ${boxes.total}`);
  await screenshot('03-select-all.png');
  await selectAll.uncheck();
  boxes = await ticked(page);
  if (boxes.checked !== 0) fail(`unticking select-all left ${boxes.checked} boxes ticked`);
  log('select-all unticked every box');

  // 7. Into the subfolder: the breadcrumbs end with it, My Drive becomes a link.
  await openFolder(page, SUBFOLDER);
  const trail = await crumbs(page);
  if (trail !== `${SERVICE} / My Drive / ${SUBFOLDER}`) fail(`the breadcrumbs read ${JSON.stringify(trail)}`);
  if ((await page.locator('#cloud-import nav.crumbs a', { hasText: 'My Drive' }).count()) !== 1) fail('"My Drive" is not a link in the breadcrumbs');
  const inside = await fileNames(page);
  log(`${SUBFOLDER}: ${JSON.stringify(inside)}; crumbs ${JSON.stringify(trail)}`);
  if (inside.length < PICKS.length + 1) fail(`${SUBFOLDER} should list more files than the ${PICKS.length} picked`);
  if ((await page.locator('#cloud-import tr.load-more').count()) !== 0) fail(`${SUBFOLDER} offers "Load more" for a few files`);
  await screenshot('04-subfolder.png');

  // 8. Tick the picks and import them.
  await importPicks(page, PICKS, {
    where: SUBFOLDER, service: SERVICE, shots: { ticked: '05-ticked.png', imported: '06-imported.png' },
  });

  // 9. The file list refreshes (files-changed) and polls until both rows say ready.
  await waitUntilReady(page, PICKS, { timeoutMs: READY_TIMEOUT_MS, folderPath });
  await screenshot('07-ready.png');
}

await run(steps);
