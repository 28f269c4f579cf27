import { useCallback, useEffect, useRef, useState } from 'react';
import type { JSX } from 'react';
import type { AppInfo, AuditRecordRequest, ServiceClient, SiteSummary } from '../../shared/ipc/contract';
import type { AuditStore } from '../audit/audit-store';
import { AuditView } from '../audit/AuditView';
import type { Logger } from '../../shared/log';
import type { WorklistRow, WorklistStore } from '../worklist/worklist-store';
import { WorklistView } from '../worklist/WorklistView';
import type { OpenRequest, ViewerStore } from '../viewer/viewer-store';
import { StackViewer } from '../viewer/StackViewer';
import type { SitesStore } from '../sites/sites-store';
import { SitesPanel } from '../sites/SitesPanel';
import type { PdfRuntime } from '../lib/pdf/pdf-runtime';
import type { ReferralPanelStore } from '../referral/referral-panel-store';
import { ReferralPanel } from '../referral/ReferralPanel';
import type { TransfersStore } from '../cache/transfers-store';
import { TransfersButton, TransfersPanel } from '../transfers/TransfersPanel';
import type { StorageStore } from '../storage/storage-store';
import { StorageButton, StoragePanel } from '../storage/StoragePanel';
import type { Prefetch } from '../prefetch/prefetch-wiring';
import { PrefetchPanel, PrefetchStatus } from '../prefetch/PrefetchPanel';
import type { ConnectivityStore } from './connectivity';
import { ConnectivityIndicator } from './ConnectivityIndicator';
import type { DeliveryNotices } from '../outbox/delivery-notices';
import type { OutboxView } from '../outbox/OutboxPanel';
import { DeliveryToasts, OutboxButton, OutboxPanel } from '../outbox/OutboxPanel';
import type { Reports } from '../reports/report-wiring';
import { ReportPanel } from '../reports/ReportPanel';
import { NewReportNoticeList } from '../reports/NewReportNotices';
import type { ReferralCaseUi } from '../referral-cases/referral-case-wiring';
import { ReferralCasesArea, startNewReferral } from '../referral-cases/ReferralCasesArea';
import type { ReferralView } from '../referral-cases/ReferralCasesArea';
import type { CaseThread } from '../case-thread/thread-wiring';
import { CaseThreadPanel } from '../case-thread/CaseThreadPanel';
import type { QualityBadges } from '../quality/quality-badges';
import type { QualityService } from '../quality/study-quality';
import { QualityPanel } from '../quality/QualityPanel';
import type { LockController } from '../lock/lock-controller';
import { SecurityPanel } from '../lock/SecurityPanel';

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

export function App({ deps }: { deps: AppDeps }): JSX.Element {
  const { client, worklist, viewer, log, referralPanel, pdfRuntime, listAhead } = deps;
  const [info, setInfo] = useState<AppInfo | undefined>(undefined);
  const [open, setOpen] = useState<OpenRequest | undefined>(undefined);
  const [showSites, setShowSites] = useState(false);
  const [showAudit, setShowAudit] = useState(false);
  const [showSecurity, setShowSecurity] = useState(false);
  const [showTransfers, setShowTransfers] = useState(false);
  const [showStorage, setShowStorage] = useState(false);
  const [showOutbox, setShowOutbox] = useState(false);
  const [showPrefetch, setShowPrefetch] = useState(false);
  // Case thread: a photo that reached the cache after the viewer opened reopens the viewer (from the cache) on it.
  const [viewerEpoch, setViewerEpoch] = useState(0);
  const threadPhoto = useRef<string | undefined>(undefined);
  useEffect(() => {
    // Runs after the remounted viewer's open (child effects first): the series is shown once it is in.
    if (threadPhoto.current) viewer.selectSeries(threadPhoto.current);
    threadPhoto.current = undefined;
  }, [viewerEpoch, viewer]);
  const showThreadSeries = useCallback(
    (seriesUid: string) => {
      if (viewer.getState().series.some((s) => s.seriesInstanceUID === seriesUid)) viewer.selectSeries(seriesUid);
      else {
        threadPhoto.current = seriesUid;
        setViewerEpoch((n) => n + 1);
      }
    },
    [viewer],
  );
  const [referralView, setReferralView] = useState<ReferralView | undefined>(undefined);

  useEffect(() => {
    let live = true;
    client.app
      .info({})
      .then((i) => live && setInfo(i))
      .catch((err: unknown) => log.warn('app.info failed', err));
    void worklist.refresh();
    return () => {
      live = false;
    };
  }, [client, worklist, log]);

  const onOpen = useCallback(
    (row: WorklistRow) => {
      const site = worklist.getState().sites.find((s) => s.site.id === row.siteId)?.site;
      if (site && !row.availableOffline) listAhead?.(site, row.studyInstanceUID);
      setOpen({
        site,
        study: {
          studyInstanceUID: row.studyInstanceUID,
          siteId: row.siteId,
          patientName: row.patientName,
          patientId: row.patientId,
          studyDate: row.studyDate,
          modalities: row.modalities,
          description: row.description,
          numInstances: row.numInstances ?? 0,
        },
      });
    },
    [worklist, listAhead],
  );
  // Who looked at which patient's images, when: one audit event per study opened (issue 9).
  const openedUid = open?.study.studyInstanceUID;
  const auditReport = deps.audit?.report;
  useEffect(() => {
    if (!open || !auditReport) return;
    const { study } = open;
    void auditReport({
      action: 'study.view',
      patient: { ...(study.patientId ? { id: study.patientId } : {}), ...(study.patientName ? { name: study.patientName } : {}) },
      studyInstanceUID: study.studyInstanceUID,
      ...(open.site ? { siteId: open.site.id } : {}),
      outcome: 'success',
    });
    // Once per opened study, not per re-render of the same request.
  }, [openedUid, auditReport]);

  const onClose = useCallback(() => setOpen(undefined), []);

  return (
    <div className="app">
      <header className="app-header">
        <span className="app-name">{info?.name ?? 'Telerad Workstation'}</span>
        {info && (
          <span className="app-host" data-testid="app-host">
            {info.host === 'electron' ? 'desktop' : 'browser host'} · v{info.version}
          </span>
        )}
        <button type="button" className="btn btn-small app-sites-button" data-testid="sites-button" aria-pressed={showSites} onClick={() => setShowSites((v) => !v)}>
          Sites
        </button>
        {deps.audit && (
          <button type="button" className="btn btn-small" data-testid="audit-button" aria-pressed={showAudit} onClick={() => setShowAudit((v) => !v)}>
            Audit
          </button>
        )}
        {deps.lock && (
          <>
            <button type="button" className="btn btn-small" data-testid="security-button" aria-pressed={showSecurity} onClick={() => setShowSecurity((v) => !v)}>
              Security
            </button>
            <button type="button" className="btn btn-small" data-testid="lock-button" title="Lock the workstation: hides patient data until unlocked" onClick={() => void deps.lock!.lock('user')}>
              Lock
            </button>
          </>
        )}
        {deps.connectivity && <ConnectivityIndicator store={deps.connectivity} />}
        {deps.prefetch && <PrefetchStatus scheduler={deps.prefetch.scheduler} pressed={showPrefetch} onToggle={() => setShowPrefetch((v) => !v)} />}
        {deps.transfers && <TransfersButton store={deps.transfers} pressed={showTransfers} onToggle={() => setShowTransfers((v) => !v)} />}
        {deps.storage && (
          <StorageButton
            pressed={showStorage}
            onToggle={() => {
              // Both panels drop down from the same corner: one at a time.
              setShowTransfers(false);
              setShowStorage((v) => !v);
            }}
          />
        )}
        {deps.outbox && <OutboxButton outbox={deps.outbox.jobs} pressed={showOutbox} onToggle={() => setShowOutbox((v) => !v)} />}
        {deps.referralCases && (
          <>
            <button
              type="button"
              className="btn btn-small"
              data-testid="new-referral-button"
              onClick={() => {
                const ui = deps.referralCases!;
                startNewReferral(ui).then(
                  (view) => {
                    setOpen(undefined);
                    setReferralView(view);
                  },
                  (err: unknown) => log.warn('Starting a referral failed', err),
                );
              }}
            >
              New referral
            </button>
            <button
              type="button"
              className="btn btn-small"
              data-testid="my-referrals-button"
              aria-pressed={referralView?.kind === 'list'}
              onClick={() => {
                setOpen(undefined);
                setReferralView((v) => (v?.kind === 'list' ? undefined : { kind: 'list' }));
              }}
            >
              My referrals
            </button>
          </>
        )}
      </header>
      {deps.outbox && showOutbox && <OutboxPanel outbox={deps.outbox.jobs} onClose={() => setShowOutbox(false)} />}
      {deps.outbox && <DeliveryToasts notices={deps.outbox.notices} />}
      {deps.transfers && showTransfers && <TransfersPanel store={deps.transfers} />}
      {deps.storage && showStorage && <StoragePanel store={deps.storage} onClose={() => setShowStorage(false)} />}
      {deps.prefetch && showPrefetch && <PrefetchPanel settings={deps.prefetch.settings} sites={worklist.getState().sites.map((s) => s.site)} />}
      <main className="app-main">
        {open ? (
          <div className="study-layout">
            <StackViewer key={viewerEpoch} store={viewer} request={open} onClose={onClose} />
            {deps.caseThread && (
              <CaseThreadPanel
                store={deps.caseThread.store}
                actions={deps.caseThread.actions}
                loadPdf={deps.caseThread.loadPdf}
                site={open.site}
                siteId={open.study.siteId}
                studyInstanceUID={open.study.studyInstanceUID}
                pdfRuntime={pdfRuntime}
                onShowSeries={showThreadSeries}
                drafts={deps.caseThread.drafts}
                log={log}
              />
            )}
            {/* One side column, the referral above the report: side by side they left a 1280 px laptop a 290 px image. */}
            <div className="study-side">
              {deps.quality && (
                <QualityPanel quality={deps.quality.service} viewer={viewer} studyInstanceUID={open.study.studyInstanceUID} onResult={deps.quality.badges.put} log={log} />
              )}
              <ReferralPanel
                store={referralPanel}
                site={open.site}
                studyInstanceUID={open.study.studyInstanceUID}
                pdfRuntime={pdfRuntime}
                onShowSeries={viewer.selectSeries}
              />
              {deps.reports && (
                <ReportPanel
                  store={deps.reports.panel}
                  reportCase={{ site: open.site, siteId: open.study.siteId, studyInstanceUID: open.study.studyInstanceUID, modalities: open.study.modalities, description: open.study.description }}
                  pdfRuntime={pdfRuntime}
                />
              )}
            </div>
          </div>
        ) : referralView && deps.referralCases ? (
          <ReferralCasesArea
            ui={deps.referralCases}
            view={referralView}
            setView={setReferralView}
            sites={worklist.getState().sites.map((s) => s.site)}
            onOpen={setOpen}
            log={log}
          />
        ) : showSecurity && deps.lock ? (
          <SecurityPanel lock={deps.lock} onClose={() => setShowSecurity(false)} />
        ) : showAudit && deps.audit ? (
          <AuditView store={deps.audit.store} onClose={() => setShowAudit(false)} />
        ) : showSites ? (
          <SitesPanel store={deps.sites} onClose={() => setShowSites(false)} />
        ) : (
          <WorklistView store={worklist} onOpen={onOpen} {...(deps.prefetch ? { prefetchMarks: deps.prefetch.settings } : {})} {...(deps.quality ? { quality: deps.quality.badges } : {})} {...(deps.transfers ? { transfers: deps.transfers } : {})} />
        )}
      </main>
      {deps.reports && <NewReportNoticeList notices={deps.reports.notices} />}
    </div>
  );
}
