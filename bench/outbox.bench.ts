// The outbox at reconnect: 100 signed reports (each an SR and an
// Encapsulated PDF, as signing queues them) wait in the outbox while the
// workstation is offline and the site is down; then the site comes back and
// the network with it. Measured: time until the site holds all of them, the
// requests that reached the site per report, and duplicates (instances the
// site received more than once; must be 0). A second run has the link up but
// the site down, so the jobs fail and back off (default 5 s → 10 min) until
// it returns. Baseline: the same number of reports sent one by one with a
// plain STOW-RS loop and no queue, once the site is up. All through the
// browser host's gateway and a counting loopback proxy to a real Orthanc.
// Ends with one JSON line.
import { gatewayPathForSite } from '../src/shared/gateway';
import { stowInstances } from '../tests/support/stow';
import { freshDb, makeOutbox, reportJob, siteInstances, SITE_ID, startOutboxWorld } from '../tests/integration/outbox/harness';
import type { OutboxWorld } from '../tests/integration/outbox/harness';
import { FakeNetwork } from '../tests/support/outbox-jobs';

const REPORTS = 100;

interface RunFigures {
  seconds: number;
  requestsPerReport: number;
  stowPerReport: number;
  duplicates: number;
  delivered: number;
}

function duplicatesAmong(world: OutboxWorld, uids: string[]): number {
  const counts = world.receipts.all(world.orthanc);
  return uids.reduce((n, u) => n + Math.max(0, (counts.get(u) ?? 0) - 1), 0);
}

async function allAtSite(world: OutboxWorld, uids: string[]): Promise<boolean> {
  const listed = new Set(await siteInstances(world.orthanc, world.study.studyInstanceUID));
  return uids.every((u) => listed.has(u));
}

/** 100 jobs queued with the site down; `online` says whether the workstation sees a network meanwhile. */
async function outboxRun(world: OutboxWorld, base: number, linkUpMeanwhile: boolean): Promise<RunFigures> {
  const db = freshDb();
  const jobs = await Promise.all(Array.from({ length: REPORTS }, (_, i) => reportJob(world.study, base + i)));
  await db.outboxJobs.bulkPut(jobs);
  const uids = jobs.flatMap((j) => j.instances.map((i) => i.sopInstanceUID));
  await world.orthanc.stop({ keepData: true });
  const network = new FakeNetwork();
  network.online = false; // the reports queue up offline, then the link comes back
  network.online = linkUpMeanwhile;
  // The app's defaults (5 s → 10 min): what a user would wait.
  const outbox = makeOutbox(world, db, { origin: world.host!.origin, token: world.host!.token }, { network, backoff: {} });
  // Timed by the outbox's own delivery notices (a STOW answer naming every instance stored), not by polling the site.
  let delivered = 0;
  let allDelivered!: () => void;
  const done = new Promise<void>((r) => (allDelivered = r));
  outbox.onDelivered(() => {
    if (++delivered === REPORTS) allDelivered();
  });
  await outbox.start();
  if (linkUpMeanwhile) await new Promise((r) => setTimeout(r, 15_000)); // the jobs fail and back off for 15 s
  await world.orthanc.restart();
  world.proxy.resetCounters();
  const t0 = performance.now();
  network.set(true);
  await done;
  const seconds = (performance.now() - t0) / 1000;
  if (!(await allAtSite(world, uids))) throw new Error('the outbox said delivered, but the site lacks reports');
  outbox.stop();
  const requests = world.proxy.exchanges.length;
  const stow = world.proxy.exchanges.filter((e) => e.method === 'POST').length;
  return { seconds, requestsPerReport: requests / REPORTS, stowPerReport: stow / REPORTS, duplicates: duplicatesAmong(world, uids), delivered };
}

/** The baseline: a plain loop, one STOW-RS per report, no queue, no check, the site up. */
async function plainLoop(world: OutboxWorld, base: number): Promise<RunFigures> {
  const jobs = await Promise.all(Array.from({ length: REPORTS }, (_, i) => reportJob(world.study, base + i)));
  const uids = jobs.flatMap((j) => j.instances.map((i) => i.sopInstanceUID));
  world.proxy.resetCounters();
  const url = world.host!.origin + gatewayPathForSite(SITE_ID);
  const t0 = performance.now();
  let delivered = 0;
  for (const job of jobs) {
    await stowInstances(url, undefined, job.instances.map((i) => new Uint8Array(i.bytes)), { 'x-telerad-token': world.host!.token });
    delivered++;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!(await allAtSite(world, uids))) throw new Error('the plain loop lost reports');
  return { seconds, requestsPerReport: world.proxy.exchanges.length / REPORTS, stowPerReport: world.proxy.exchanges.length / REPORTS, duplicates: duplicatesAmong(world, uids), delivered };
}

const world = await startOutboxWorld();
try {
  const baseline = await plainLoop(world, 10_000);
  const offline = await outboxRun(world, 20_000, false);
  const siteDown = await outboxRun(world, 30_000, true);
  const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
  const row = (name: string, r: RunFigures): string =>
    `${name.padEnd(44)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.requestsPerReport.toFixed(2)} req/report (${r.stowPerReport.toFixed(2)} STOW)  duplicates ${r.duplicates}`;
  console.log(`${REPORTS} reports (SR + Encapsulated PDF each) through the gateway to Orthanc`);
  console.log(row('plain STOW loop, site up (baseline)', baseline));
  console.log(row('outbox, released at reconnect', offline));
  console.log(row('outbox, site down 15 s then up (link up)', siteDown));
  const figures = {
    reconnect_s: round(offline.seconds),
    reconnect_requests_per_report: round(offline.requestsPerReport),
    reconnect_duplicates: offline.duplicates,
    site_down_up_s: round(siteDown.seconds),
    site_down_up_requests_per_report: round(siteDown.requestsPerReport),
    site_down_up_duplicates: siteDown.duplicates,
  };
  const base = { plain_loop_s: round(baseline.seconds), plain_loop_requests_per_report: round(baseline.requestsPerReport), plain_loop_duplicates: baseline.duplicates };
  const ratios = { reconnect_over_plain_time: round(offline.seconds / baseline.seconds) };
  console.log(JSON.stringify({ bench: 'outbox', figures, baseline: base, ratios }));
} finally {
  await world.close();
}
