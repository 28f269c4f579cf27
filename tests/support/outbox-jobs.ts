// Shared by the outbox unit tests: a clock that only moves when told, a
// scripted site (what it holds, what it answers next) and job records.
import type { OutboxJobRecord } from '../../src/renderer/cache/telerad-db';
import type { OutboxClock, OutboxNetwork } from '../../src/renderer/outbox/outbox-scheduler';
import type { OutboxTransport, StowInstance, StowOutcome } from '../../src/renderer/outbox/stow-client';
import { ManualTimers } from './manual-timers';

/** Zero-delay timers run at once (on the real event loop); longer ones only on advance(). */
export class FakeClock extends ManualTimers implements OutboxClock {
  constructor() {
    super({ start: 1_000_000, zeroDelayOnEventLoop: true });
  }
}

export class FakeNetwork implements OutboxNetwork {
  online = true;
  private listeners = new Set<(online: boolean) => void>();
  isOnline = (): boolean => this.online;
  subscribe = (l: (online: boolean) => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  set(online: boolean): void {
    this.online = online;
    for (const l of this.listeners) l(online);
  }
}

export type StowScript = (instances: readonly StowInstance[], site: FakeSite) => StowOutcome | Promise<StowOutcome>;

/** A site: the instances it holds, the STOW answers it will give (in order; then "store all"). */
export class FakeSite implements OutboxTransport {
  held = new Set<string>();
  /** Times each SOP Instance UID was stored (more than 1 is a duplicate). */
  storeCount = new Map<string, number>();
  stowCalls: string[][] = [];
  findCalls: string[][] = [];
  script: StowScript[] = [];
  findScript: Array<() => Promise<Set<string>> | Set<string>> = [];
  /** Called when a STOW request starts, before the site answers (to look at the job mid-send). */
  onStow?: () => Promise<void> | void;

  store(uids: readonly string[]): void {
    for (const u of uids) {
      this.held.add(u);
      this.storeCount.set(u, (this.storeCount.get(u) ?? 0) + 1);
    }
  }

  async stow(_siteId: string, instances: readonly StowInstance[]): Promise<StowOutcome> {
    this.stowCalls.push(instances.map((i) => i.sopInstanceUID));
    await this.onStow?.();
    const step = this.script.shift();
    if (step) return step(instances, this);
    const uids = instances.map((i) => i.sopInstanceUID);
    this.store(uids);
    return { status: 200, stored: uids, failed: [], unaccounted: [] };
  }

  async findStored(_siteId: string, _study: string, uids: readonly string[]): Promise<Set<string>> {
    this.findCalls.push([...uids]);
    const step = this.findScript.shift();
    if (step) return step();
    return new Set(uids.filter((u) => this.held.has(u)));
  }
}

let seq = 0;
export const SR_CLASS = '1.2.840.10008.5.1.4.1.1.88.33';
export const PDF_CLASS = '1.2.840.10008.5.1.4.1.1.104.1';

/** A report job as signing writes it: queued, due now, two instances (SR and PDF). */
export function reportJob(now: number, overrides: Partial<OutboxJobRecord> = {}): OutboxJobRecord {
  const n = ++seq;
  const bytes = new Uint8Array([1, 2, 3, n]).buffer;
  return {
    id: `job-${n}`,
    siteId: 'hospital-a',
    studyInstanceUID: '1.2.3',
    kind: 'report',
    reportId: `report-${n}`,
    label: `Report ${n} — CT chest`,
    instances: [
      { sopInstanceUID: `1.2.3.${n}.1`, sopClassUID: SR_CLASS, seriesInstanceUID: '1.2.3.9', bytes, state: 'pending' },
      { sopInstanceUID: `1.2.3.${n}.2`, sopClassUID: PDF_CLASS, seriesInstanceUID: '1.2.3.8', bytes, state: 'pending' },
    ],
    state: 'queued',
    attempts: 0,
    nextAttemptAt: now,
    uncertain: false,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** Polls until `check` holds (real time; the scheduler's work runs on the event loop). */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
