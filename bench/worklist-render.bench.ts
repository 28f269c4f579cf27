// How the merged worklist behaves at 10,000 studies in Chromium (a figure,
// not a test): the real WorklistView and worklist store, bundled with
// esbuild into a page with the app's theme, fed by two fake sites of 5,000
// studies each and a referral lookup that answers every study a little later
// (so the priority fill-in runs while we measure). Reports: time to the first
// painted rows, rows in the DOM, frame times while scrolling through the
// whole list, and the time from a filter keystroke / header click to the
// next paint. Ends with one JSON line. Loopback only; one page, bounded.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';

const ROWS_PER_SITE = 5000;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-bench-worklist-'));

const entry = `
import { createRoot } from 'react-dom/client';
import { createLogger, memorySink } from ${JSON.stringify(path.join(root, 'src/shared/log.ts'))};
import { createWorklistStore } from ${JSON.stringify(path.join(root, 'src/renderer/worklist/worklist-store.ts'))};
import { WorklistView } from ${JSON.stringify(path.join(root, 'src/renderer/worklist/WorklistView.tsx'))};

const N = ${ROWS_PER_SITE};
const site = (id, name) => ({ id, name, url: 'http://pacs.invalid/' + id, authType: 'basic', gatewayPath: '/sites/' + id + '/dicom-web' });
const SITES = [site('hospital-a', 'Hospital A'), site('clinic-b', 'Clinic B')];
const MODS = [['CT'], ['MR'], ['DX'], ['CT', 'SR'], ['US'], ['MG']];
const pad = (n, w) => String(n).padStart(w, '0');
function rows(siteId) {
  return Array.from({ length: N }, (_, i) => ({
    siteId,
    studyInstanceUID: '2.25.' + siteId.length + '.' + i,
    patientName: 'PATIENT' + pad(i, 5) + ', ' + siteId.toUpperCase(),
    patientId: siteId.slice(0, 1).toUpperCase() + pad(i, 6),
    patientBirthDate: (1940 + (i % 70)) + '0' + (1 + (i % 9)) + '15',
    patientSex: i % 2 ? 'F' : 'M',
    studyDate: '2026' + pad(1 + (i % 12), 2) + pad(1 + (i % 28), 2),
    studyTime: pad(i % 24, 2) + '3000',
    modalities: MODS[i % MODS.length],
    bodyPart: ['CHEST', 'HEAD', 'ABDOMEN', 'KNEE'][i % 4],
    description: 'STUDY ' + i,
    accessionNumber: 'ACC' + i,
    numInstances: 1 + (i % 300),
  }));
}
const PRI = ['STAT', 'urgent', 'routine', undefined];
const store = createWorklistStore({
  listSites: async () => SITES,
  queryStudies: async (s) => ({ rows: rows(s.id) }),
  listCachedStudies: async () => [],
  lookupReferral: async (s, uid) => {
    await new Promise((r) => setTimeout(r, 1));
    const i = Number(uid.split('.').pop());
    const priority = PRI[i % 4];
    return priority ? { studyInstanceUID: uid, siteId: s.id, noteSopInstanceUID: uid + '.9', priority, attachments: [], hasReport: i % 7 === 0, fetchedAt: 0 } : undefined;
  },
  referralConcurrency: 16,
  classifyError: (e) => ({ kind: 'other', message: String(e) }),
  log: createLogger('bench', memorySink()),
});
window.__store = store;
createRoot(document.getElementById('root')).render(<WorklistView store={store} onOpen={() => {}} />);
window.__t0 = performance.now();
store.refresh();
`;

try {
  writeFileSync(path.join(tmp, 'entry.tsx'), entry);
  await build({
    entryPoints: [path.join(tmp, 'entry.tsx')],
    bundle: true,
    // A classic script: Chromium refuses module scripts from file:// (origin null).
    format: 'iife',
    outfile: path.join(tmp, 'bundle.js'),
    jsx: 'automatic',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'error',
  });
  const css = readFileSync(path.join(root, 'src/renderer/app/theme.css'), 'utf8');
  writeFileSync(
    path.join(tmp, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><style>${css}</style></head><body><div id="root" style="display:flex;flex-direction:column"></div><script src="bundle.js"></script></body></html>`,
  );

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await page.goto(`file://${path.join(tmp, 'index.html')}`);
    const rowSel = '[data-testid="worklist-row"]';
    await page.waitForSelector(rowSel);
    const firstRowsMs = await page.evaluate(() => performance.now() - (window as unknown as { __t0: number }).__t0);
    await page.waitForFunction(() => document.querySelector('[data-testid="worklist-count"]')?.textContent === '10000 studies');
    // Referral answers fill in while the list is on screen: wait for the last batch.
    const allInMs = await page.evaluate(async () => {
      const w = window as unknown as { __store: { referralsIdle(): Promise<void> }; __t0: number };
      await w.__store.referralsIdle();
      return performance.now() - w.__t0;
    });
    const domRows = await page.locator(rowSel).count();
    // To look at the list as the bench drew it: WORKLIST_BENCH_SCREENSHOT=path.png npm run bench -- worklist
    if (process.env.WORKLIST_BENCH_SCREENSHOT) await page.screenshot({ path: process.env.WORKLIST_BENCH_SCREENSHOT });

    // Scroll the whole list, one step per frame, and record every frame's duration.
    // A string, not a function: tsx wraps named inner functions in a `__name` helper the page does not have.
    const scroll = (await page.evaluate(`(async () => {
      const grid = document.querySelector('[role="grid"]');
      const frames = [];
      const steps = 300;
      const stepPx = (grid.scrollHeight - grid.clientHeight) / steps;
      let last = performance.now();
      for (let i = 1; i <= steps; i++) {
        grid.scrollTop = i * stepPx;
        await new Promise((r) => requestAnimationFrame(() => r(undefined)));
        const t = performance.now();
        frames.push(t - last);
        last = t;
      }
      // The same number of frames without scrolling: what this browser's frame loop costs on its own.
      const idle = [];
      last = performance.now();
      for (let i = 1; i <= steps; i++) {
        await new Promise((r) => requestAnimationFrame(() => r(undefined)));
        const t = performance.now();
        idle.push(t - last);
        last = t;
      }
      frames.sort((a, b) => a - b);
      idle.sort((a, b) => a - b);
      const at = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
      return { stepPx, p50: at(frames, 0.5), p95: at(frames, 0.95), max: frames[frames.length - 1], idleP50: at(idle, 0.5), rowsAtEnd: document.querySelectorAll('[data-testid="worklist-row"]').length };
    })()`)) as { stepPx: number; p50: number; p95: number; max: number; idleP50: number; rowsAtEnd: number };

    const untilPaint = async (action: () => Promise<void>): Promise<number> => {
      await page.evaluate(() => {
        (window as unknown as { __ta: number }).__ta = performance.now();
      });
      await action();
      return page.evaluate(
        () =>
          new Promise<number>((r) =>
            requestAnimationFrame(() => setTimeout(() => r(performance.now() - (window as unknown as { __ta: number }).__ta), 0)),
          ),
      );
    };
    const filterMs = await untilPaint(() => page.locator('[data-testid="filter-text"]').fill('patient0001'));
    const filtered = await page.locator('[data-testid="worklist-count"]').textContent();
    await page.locator('[data-testid="filter-text"]').fill('');
    const sortMs = await untilPaint(() => page.locator('[data-testid="sort-patientName"]').click());
    const priorityMs = await untilPaint(async () => {
      await page.locator('[data-testid="filter-priority"]').selectOption('STAT');
    });

    const r = (n: number): number => Math.round(n * 10) / 10;
    const figures = {
      rows: 2 * ROWS_PER_SITE,
      first_rows_ms: r(firstRowsMs),
      all_referrals_in_ms: r(allInMs),
      dom_rows: domRows,
      scroll_frame_p50_ms: r(scroll.p50),
      scroll_frame_p95_ms: r(scroll.p95),
      scroll_frame_max_ms: r(scroll.max),
      idle_frame_p50_ms: r(scroll.idleP50),
      scroll_step_px: Math.round(scroll.stepPx),
      filter_text_to_paint_ms: r(filterMs),
      sort_click_to_paint_ms: r(sortMs),
      priority_filter_to_paint_ms: r(priorityMs),
    };
    console.log(`worklist, ${figures.rows} studies from 2 sites, headless Chromium (no GPU)`);
    console.log(`  first rows painted     : ${figures.first_rows_ms} ms; all referral priorities in: ${figures.all_referrals_in_ms} ms`);
    console.log(`  rows in the DOM        : ${figures.dom_rows} (at the end of the list: ${scroll.rowsAtEnd})`);
    // Each step is larger than the viewport: every visible row is replaced every frame (the worst case, a fling to the end).
    console.log(`  scrolling ${figures.scroll_step_px} px a frame, frame time : p50 ${figures.scroll_frame_p50_ms} ms, p95 ${figures.scroll_frame_p95_ms} ms, max ${figures.scroll_frame_max_ms} ms (idle frame p50 ${figures.idle_frame_p50_ms} ms)`);
    console.log(`  text filter → paint    : ${figures.filter_text_to_paint_ms} ms (${filtered})`);
    console.log(`  sort click → paint     : ${figures.sort_click_to_paint_ms} ms; priority filter → paint: ${figures.priority_filter_to_paint_ms} ms`);
    console.log(JSON.stringify({ bench: 'worklist-render', figures }));
  } finally {
    await browser.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
