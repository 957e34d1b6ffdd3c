// Opens code-server in headless Chromium (Debian's, through playwright-core) and waits until the
// extension's report (MAESTRO_VSCODE_REPORT, written by the extension itself) says done; then takes
// a screenshot. Run by tests/e2e/editors.rs:  node drive.cjs URL REPORT SCREENSHOT PROFILE_DIR SECS
const fs = require('fs');
const { chromium } = require('playwright-core');

const [url, report, screenshot, profile, secs] = process.argv.slice(2);
const deadline = Date.now() + Number(secs || 90) * 1000;

function done() {
  try {
    return JSON.parse(fs.readFileSync(report, 'utf8')).done === true;
  } catch {
    return false;
  }
}

(async () => {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.MAESTRO_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  while (!done() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  // Let the workbench paint what the extension did.
  await new Promise((r) => setTimeout(r, 1500));
  await page.screenshot({ path: screenshot });
  await context.close();
  process.exit(done() ? 0 : 1);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
