import type { JSX } from 'react';
import type { Logger } from '../../shared/log';
import type { SiteSummary } from '../../shared/ipc/contract';
import type { OpenRequest } from '../viewer';
import { MyReferrals } from './MyReferrals';
import { ReferralWizard } from './ReferralWizard';
import type { ReferralCaseUi } from './referral-case-wiring';

/** What the main area shows of referral cases: the wizard of one case, or the list. */
export type ReferralView = { kind: 'wizard'; caseId: string } | { kind: 'list' };

/** "New referral": a fresh draft, its referring clinician taken from the user profile. */
export async function startNewReferral(ui: ReferralCaseUi): Promise<ReferralView> {
  const clinician = await ui.defaultClinician();
  const draft = await ui.cases.createDraft(clinician ? { referringClinician: clinician } : {});
  return { kind: 'wizard', caseId: draft.id };
}

export interface ReferralCasesAreaProps {
  ui: ReferralCaseUi;
  view: ReferralView;
  setView: (view: ReferralView | undefined) => void;
  sites: readonly SiteSummary[];
  onOpen: (req: OpenRequest) => void;
  log: Logger;
}

export function ReferralCasesArea({ ui, view, setView, sites, onOpen, log }: ReferralCasesAreaProps): JSX.Element {
  const open = (p: Promise<OpenRequest>): void => {
    p.then(onOpen).catch((err: unknown) => log.warn('Opening the case study failed', err));
  };
  if (view.kind === 'wizard') {
    return (
      <ReferralWizard
        key={view.caseId}
        cases={ui.cases}
        caseId={view.caseId}
        sites={sites}
        estimate={ui.estimate}
        canCompress={ui.canCompress}
        compressedBytes={ui.compressedBytes}
        onView={(uid, record) => open(ui.openRequest(record, uid))}
        onSent={() => void ui.myReferrals.refresh()}
        onClose={() => setView({ kind: 'list' })}
        log={log}
      />
    );
  }
  return (
    <MyReferrals
      store={ui.myReferrals}
      siteName={(id) => sites.find((s) => s.id === id)?.name}
      onContinue={(record) => setView({ kind: 'wizard', caseId: record.id })}
      onOpenStudy={(record) => open(ui.openRequest(record))}
      onClose={() => setView(undefined)}
    />
  );
}
