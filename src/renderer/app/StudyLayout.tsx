import type { JSX } from 'react';
import type { OpenRequest } from '../viewer/viewer-store';
import { StackViewer } from '../viewer/StackViewer';
import { ReferralPanel } from '../referral/ReferralPanel';
import { ReportPanel } from '../reports/ReportPanel';
import { CaseThreadPanel } from '../case-thread/CaseThreadPanel';
import { QualityPanel } from '../quality/QualityPanel';
import type { AppDeps } from './app-deps';

export interface StudyLayoutProps {
  deps: AppDeps;
  open: OpenRequest;
  /** Keys the viewer: a new epoch remounts it (a thread photo that reached the cache since). */
  viewerEpoch: number;
  onClose: () => void;
  onShowThreadSeries: (seriesUid: string) => void;
}

/** An open study: the viewer, the case thread, and one side column of quality, referral and report. */
export function StudyLayout({ deps, open, viewerEpoch, onClose, onShowThreadSeries }: StudyLayoutProps): JSX.Element {
  const { viewer, log, pdfRuntime } = deps;
  const { studyInstanceUID } = open.study;
  return (
    <div className="study-layout">
      <StackViewer key={viewerEpoch} store={viewer} request={open} onClose={onClose} />
      {deps.caseThread && (
        <CaseThreadPanel
          store={deps.caseThread.store}
          actions={deps.caseThread.actions}
          loadPdf={deps.caseThread.loadPdf}
          site={open.site}
          siteId={open.study.siteId}
          studyInstanceUID={studyInstanceUID}
          pdfRuntime={pdfRuntime}
          onShowSeries={onShowThreadSeries}
          drafts={deps.caseThread.drafts}
          log={log}
        />
      )}
      {/* One side column, the referral above the report: side by side they left a 1280 px laptop a 290 px image. */}
      <div className="study-side">
        {deps.quality && <QualityPanel quality={deps.quality.service} viewer={viewer} studyInstanceUID={studyInstanceUID} onResult={deps.quality.badges.put} log={log} />}
        <ReferralPanel store={deps.referralPanel} site={open.site} studyInstanceUID={studyInstanceUID} pdfRuntime={pdfRuntime} onShowSeries={viewer.selectSeries} />
        {deps.reports && (
          <ReportPanel
            store={deps.reports.panel}
            reportCase={{ site: open.site, siteId: open.study.siteId, studyInstanceUID, modalities: open.study.modalities, description: open.study.description }}
            pdfRuntime={pdfRuntime}
          />
        )}
      </div>
    </div>
  );
}
