import { useCallback, useState } from 'react';
import type { Dispatch, JSX, SetStateAction } from 'react';
import { AuditView } from '../audit/AuditView';
import type { WorklistRow } from '../worklist/worklist-store';
import { WorklistView } from '../worklist/WorklistView';
import type { OpenRequest } from '../viewer/viewer-store';
import { SitesPanel } from '../sites/SitesPanel';
import { NewReportNoticeList } from '../reports/NewReportNotices';
import { ReferralCasesArea } from '../referral-cases/ReferralCasesArea';
import type { ReferralView } from '../referral-cases/ReferralCasesArea';
import { SecurityPanel } from '../lock/SecurityPanel';
import type { AppDeps } from './app-deps';
import { useAppInfo, useOpenWorklistRow, useStudyViewAudit, useThreadSeries } from './app-hooks';
import { AppHeader, HeaderDropDowns } from './AppHeader';
import { StudyLayout } from './StudyLayout';
import type { HeaderPanels } from './use-header-panels';
import { useHeaderPanels } from './use-header-panels';

export type { AppDeps } from './app-deps';

interface MainViewProps {
  deps: AppDeps;
  panels: HeaderPanels;
  open: OpenRequest | undefined;
  setOpen: (req: OpenRequest | undefined) => void;
  /** Stable across renders: the viewer's Escape and close button. */
  closeStudy: () => void;
  onOpenRow: (row: WorklistRow) => void;
  viewerEpoch: number;
  onShowThreadSeries: (seriesUid: string) => void;
  referralView: ReferralView | undefined;
  setReferralView: Dispatch<SetStateAction<ReferralView | undefined>>;
}

/** The main area: the open study, else a referral view, else the panel the header opened, else the worklist. */
function MainView({ deps, panels, open, setOpen, closeStudy, onOpenRow, viewerEpoch, onShowThreadSeries, referralView, setReferralView }: MainViewProps): JSX.Element {
  const { worklist, log } = deps;
  if (open) return <StudyLayout deps={deps} open={open} viewerEpoch={viewerEpoch} onClose={closeStudy} onShowThreadSeries={onShowThreadSeries} />;
  if (referralView && deps.referralCases) {
    return <ReferralCasesArea ui={deps.referralCases} view={referralView} setView={setReferralView} sites={worklist.getState().sites.map((s) => s.site)} onOpen={setOpen} log={log} />;
  }
  if (panels.security && deps.lock) return <SecurityPanel lock={deps.lock} onClose={panels.closeSecurity} />;
  if (panels.audit && deps.audit) return <AuditView store={deps.audit.store} onClose={panels.closeAudit} />;
  if (panels.sites) return <SitesPanel store={deps.sites} onClose={panels.closeSites} />;
  return (
    <WorklistView
      store={worklist}
      onOpen={onOpenRow}
      {...(deps.prefetch ? { prefetchMarks: deps.prefetch.settings } : {})}
      {...(deps.quality ? { quality: deps.quality.badges } : {})}
      {...(deps.transfers ? { transfers: deps.transfers } : {})}
    />
  );
}

export function App({ deps }: { deps: AppDeps }): JSX.Element {
  const { client, worklist, viewer, log, listAhead } = deps;
  const [open, setOpen] = useState<OpenRequest | undefined>(undefined);
  const panels = useHeaderPanels();
  // Effects in this order: the thread photo's series, then app info and the first worklist load, then the view audit.
  const { viewerEpoch, showThreadSeries } = useThreadSeries(viewer);
  const [referralView, setReferralView] = useState<ReferralView | undefined>(undefined);
  const info = useAppInfo(client, worklist, log);
  const onOpenRow = useOpenWorklistRow(worklist, listAhead, setOpen);
  useStudyViewAudit(open, deps.audit?.report);
  const closeStudy = useCallback(() => setOpen(undefined), []);

  return (
    <div className="app">
      <AppHeader deps={deps} info={info} panels={panels} nav={{ referralView, setReferralView, closeStudy }} />
      <HeaderDropDowns deps={deps} panels={panels} />
      <main className="app-main">
        <MainView
          deps={deps}
          panels={panels}
          open={open}
          setOpen={setOpen}
          closeStudy={closeStudy}
          onOpenRow={onOpenRow}
          viewerEpoch={viewerEpoch}
          onShowThreadSeries={showThreadSeries}
          referralView={referralView}
          setReferralView={setReferralView}
        />
      </main>
      {deps.reports && <NewReportNoticeList notices={deps.reports.notices} />}
    </div>
  );
}
