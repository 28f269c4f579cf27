import type { AuditRecordRequest, ServiceClient, SiteSummary } from '../../shared/ipc/contract';
import type { AuditStore } from '../audit/audit-store';
import type { Logger } from '../../shared/log';
import type { WorklistStore } from '../worklist/worklist-store';
import type { ViewerStore } from '../viewer/viewer-store';
import type { SitesStore } from '../sites/sites-store';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import type { ReferralPanelStore } from '../referral/referral-panel-store';
import type { TransfersStore } from '../cache/transfers-store';
import type { StorageStore } from '../storage/storage-store';
import type { Prefetch } from '../prefetch/prefetch-wiring';
import type { ConnectivityStore } from './connectivity';
import type { DeliveryNotices } from '../outbox/delivery-notices';
import type { OutboxView } from '../outbox/OutboxPanel';
import type { Reports } from '../reports/report-wiring';
import type { ReferralCaseUi } from '../referral-cases/referral-case-wiring';
import type { CaseThread } from '../case-thread/thread-wiring';
import type { QualityBadges } from '../quality/quality-badges';
import type { QualityService } from '../quality/study-quality';
import type { LockController } from '../lock/lock-controller';

/** Everything the UI needs, built once in main.tsx: components receive, never construct, their services. */
export interface AppDeps {
  client: ServiceClient;
  worklist: WorklistStore;
  viewer: ViewerStore;
  log: Logger;
  /** Site management (the header's "Sites" button). */
  sites: SitesStore;
  /** The referral side panel of the open study, and pdf.js for its attached PDFs. */
  referralPanel: ReferralPanelStore;
  pdfRuntime: PdfRuntime;
  /** Study retrievals under way (the header's "Transfers" button). */
  transfers?: TransfersStore;
  /** Asks the study's instance list at the click, before the viewer has mounted (the retriever's listAhead). */
  listAhead?: (site: SiteSummary, studyInstanceUID: string) => void;
  /** The offline cache's usage, budget and eviction (the header's "Storage" button). */
  storage?: StorageStore;
  /** Background prefetch: its status in the header, its settings panel, the worklist's mark toggles. */
  prefetch?: Prefetch;
  /** Online / offline / sites unreachable, shown in the header. */
  connectivity?: ConnectivityStore;
  /** The store-and-forward outbox (the header's "Outbox (n)") and its "delivered" notices. */
  outbox?: { jobs: OutboxView; notices: DeliveryNotices };
  /** The report editor of the open case, and "new report" notices over the worklist. */
  reports?: Reports;
  /** Referral cases built here (issue 7): the header's "New referral" wizard and "My referrals". */
  referralCases?: ReferralCaseUi;
  /** The conversation around the open case (questions, answers, outcome). */
  caseThread?: CaseThread;
  /** Image quality checks (issue 8): the worklist's badges and the viewer's quality panel. */
  quality?: { service: QualityService; badges: QualityBadges };
  /** main's audit trail (issue 9): the header's "Audit" view, and what the app reports to it. */
  audit?: { store: AuditStore; report: (event: Omit<AuditRecordRequest, 'actor'>) => Promise<void> };
  /** The lock (issue 9): the header's "Lock" button and "Security" panel (idle time, PIN). */
  lock?: LockController;
}
