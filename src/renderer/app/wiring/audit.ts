import { liveQuery } from 'dexie';
import type { ServiceClient } from '../../../shared/ipc/contract';
import type { Logger } from '../../../shared/log';
import type { AuditReport, AuditStore } from '../../audit/audit-store';
import { createAuditReporter, createAuditStore } from '../../audit/audit-store';
import type { TeleradDB } from '../../cache/telerad-db';

export interface AuditWiring {
  report: AuditReport;
  store: AuditStore;
}

/** main's audit trail (issue 9): what the app reports (views, signatures, exports, deliveries) and the "Audit" view. */
export function wireAudit(deps: { db: TeleradDB; client: ServiceClient; log: Logger }): AuditWiring {
  const { db, client, log } = deps;
  // Who the audit trail names: the user profile's name, followed live (it can be filled in later).
  let profileName = '';
  liveQuery(() => db.userProfile.get('me')).subscribe({
    next: (p) => {
      profileName = p?.name.trim() ?? '';
    },
    error: (err: unknown) => log.warn('Reading the user profile failed', err),
  });
  const report = createAuditReporter(client, () => profileName, log.child('audit'));
  const store = createAuditStore({ client, log: log.child('audit'), report });
  return { report, store };
}
