// @vitest-environment node
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { createDeliveryNotices } from '../../../src/renderer/outbox/delivery-notices';
import { DeliveryToasts, OutboxButton, OutboxPanel } from '../../../src/renderer/outbox/OutboxPanel';
import type { OutboxView } from '../../../src/renderer/outbox/OutboxPanel';
import type { DeliveredJob, OutboxJobView, OutboxState } from '../../../src/renderer/outbox/outbox-store';

const job = (over: Partial<OutboxJobView>): OutboxJobView => ({
  id: 'j1',
  siteId: 'hospital-a',
  siteName: 'Hospital A',
  kind: 'report',
  label: 'Report — CT chest, DOE^JANE',
  studyInstanceUID: '1.2.3',
  state: 'queued',
  attempts: 0,
  uncertain: false,
  createdAt: Date.now(),
  instances: [],
  ...over,
});

const view = (jobs: OutboxJobView[], online = true): OutboxView => {
  const state: OutboxState = { jobs, unsent: jobs.filter((j) => j.state !== 'sent').length, online, loaded: true, revision: 1 };
  return { getState: () => state, subscribe: () => () => undefined, retryNow: async () => undefined };
};

describe('the outbox panel', () => {
  it('counts what is not yet sent on the header button', () => {
    const html = renderToStaticMarkup(<OutboxButton outbox={view([job({}), job({ id: 'j2', state: 'sent' })])} pressed={false} onToggle={() => undefined} />);
    expect(html).toContain('Outbox (1)');
    expect(html).toContain('aria-label="Outbox, 1 not yet sent"');
  });

  it('lists a failed job with its site, attempts, reason, when it is tried again and a retry button', () => {
    const failed = job({ state: 'failed', attempts: 3, lastError: 'the site is busy (HTTP 503)', nextAttemptAt: Date.now() + 60_000 });
    const html = renderToStaticMarkup(<OutboxPanel outbox={view([failed])} onClose={() => undefined} />);
    expect(html).toContain('Report — CT chest, DOE^JANE');
    expect(html).toContain('to Hospital A');
    expect(html).toContain('3 attempts');
    expect(html).toContain('the site is busy (HTTP 503)');
    expect(html).toContain('next try at');
    expect(html).toContain('aria-label="Retry now: Report — CT chest, DOE^JANE"');
  });

  it('says a job refused for good waits for the user, and that offline jobs wait for the network', () => {
    const refused = job({ state: 'failed', attempts: 1, lastError: '1 of 2 stored; the PDF: the site cannot understand the instance (0xC000)' });
    expect(renderToStaticMarkup(<OutboxPanel outbox={view([refused])} onClose={() => undefined} />)).toContain('waiting for you: retry now when fixed');
    expect(renderToStaticMarkup(<OutboxPanel outbox={view([job({})], false)} onClose={() => undefined} />)).toContain('waiting for the network');
  });

  it('shows "Report delivered to <site>" as a status notice that goes away by itself', () => {
    let deliver!: (j: DeliveredJob) => void;
    const timers: Array<() => void> = [];
    const notices = createDeliveryNotices({
      onDelivered: (l) => {
        deliver = l;
        return () => undefined;
      },
      setTimeout: (fn) => timers.push(fn),
    });
    deliver({ jobId: 'j1', siteId: 'hospital-a', siteName: 'Hospital A', kind: 'report', label: 'x', studyInstanceUID: '1.2.3', sopInstanceUIDs: ['1.2.3.1'] });
    const html = renderToStaticMarkup(<DeliveryToasts notices={notices} />);
    expect(html).toContain('role="status"');
    expect(html).toContain('Report delivered to Hospital A');
    timers[0]!();
    expect(notices.getState()).toHaveLength(0);
  });
});
