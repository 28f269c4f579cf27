import { gatewayPathForSite } from '../../../shared/gateway';
import type { Logger } from '../../../shared/log';
import type { AuditReport } from '../../audit/audit-store';
import { deliveryAuditRecord, failedDeliveryAuditRecord, integrityAuditRecord } from '../../audit/audit-store';
import type { TeleradDB } from '../../cache/telerad-db';
import type { DeliveryNotices } from '../../outbox/delivery-notices';
import { createDeliveryNotices } from '../../outbox/delivery-notices';
import type { Outbox } from '../../outbox/outbox-scheduler';
import { createOutbox } from '../../outbox/outbox-scheduler';
import { createSiteTransport } from '../../outbox/stow-client';
import { browserNetworkStatus } from '../../prefetch/prefetch-wiring';
import type { WorklistStore } from '../../worklist/worklist-store';
import type { ConnectivityStore } from '../connectivity';
import type { Page } from './page';
import { worklistSite } from './worklist';

/** The outbox's audit trail, the same unlocked and behind the lock. */
export function wireOutboxAudit(outbox: Pick<Outbox, 'onDelivered' | 'onFailed' | 'onIntegrityFailure'>, auditReport: AuditReport): void {
  // Every delivery to a site is an audit event: what left, for which study, to where.
  outbox.onDelivered((job) => void auditReport(deliveryAuditRecord(job)));
  // A site answering an error to a delivery: once per job and distinct error, not once per retry.
  outbox.onFailed((f) => void auditReport(failedDeliveryAuditRecord(f)));
  // A job whose stored row failed its integrity check (changed outside the app): not sent, a Security Alert.
  outbox.onIntegrityFailure((job) => void auditReport(integrityAuditRecord(job)));
}

/** The outbox over this page's database, sending through the gateway (the same in the unlocked app and behind the lock). */
export function createBrowserOutbox(deps: { db: TeleradDB; page: Page; log: Logger; siteName: (siteId: string) => string | undefined }): Outbox {
  const { db, page, log, siteName } = deps;
  const win = page.window;
  return createOutbox({
    db,
    transport: createSiteTransport({ fetchImpl: page.fetch, siteBaseUrl: (id) => win.location.origin + gatewayPathForSite(id) }),
    clock: { now: page.now, setTimeout: (fn, ms) => win.setTimeout(fn, ms), clearTimeout: (h) => win.clearTimeout(h as number) },
    random: page.random,
    log: log.child('outbox'),
    network: browserNetworkStatus(win, page.navigator),
    siteName,
  });
}

export interface OutboxWiring {
  outbox: Outbox;
  /** "Report delivered" and the like, for the header's toasts. */
  deliveryNotices: DeliveryNotices;
}

/**
 * Outbox (issue 6; issue 7's referrals too): durable jobs delivered by STOW-RS through the gateway, exactly
 * once. Started here, before the reports, the case thread and the referral cases that enqueue into it.
 */
export function wireOutbox(deps: { db: TeleradDB; page: Page; log: Logger; worklist: WorklistStore; connectivity: ConnectivityStore; auditReport: AuditReport }): OutboxWiring {
  const { db, page, log, worklist, connectivity, auditReport } = deps;
  const outbox = createBrowserOutbox({ db, page, log, siteName: (id) => worklistSite(worklist, id)?.name });
  void outbox.start();
  // A site the worklist finds reachable again: jobs backing off from it go now rather than at their next try.
  let unreachableBefore = new Set(connectivity.getState().unreachableSiteIds);
  connectivity.subscribe(() => {
    const now = new Set(connectivity.getState().unreachableSiteIds);
    for (const id of unreachableBefore) if (!now.has(id)) void outbox.siteReachable(id);
    unreachableBefore = now;
  });
  wireOutboxAudit(outbox, auditReport);
  const deliveryNotices = createDeliveryNotices({ onDelivered: outbox.onDelivered, setTimeout: (fn, ms) => page.window.setTimeout(fn, ms) });
  return { outbox, deliveryNotices };
}
