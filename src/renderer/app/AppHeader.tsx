import type { Dispatch, JSX, SetStateAction } from 'react';
import type { AppInfo } from '../../shared/ipc/contract';
import { TransfersButton, TransfersPanel } from '../transfers/TransfersPanel';
import { StorageButton, StoragePanel } from '../storage/StoragePanel';
import { PrefetchPanel, PrefetchStatus } from '../prefetch/PrefetchPanel';
import { DeliveryToasts, OutboxButton, OutboxPanel } from '../outbox/OutboxPanel';
import { startNewReferral } from '../referral-cases/ReferralCasesArea';
import type { ReferralView } from '../referral-cases/ReferralCasesArea';
import type { LockController } from '../lock/lock-controller';
import type { ReferralCaseUi } from '../referral-cases/referral-case-wiring';
import type { Logger } from '../../shared/log';
import type { AppDeps } from './app-deps';
import { ConnectivityIndicator } from './ConnectivityIndicator';
import type { HeaderPanels } from './use-header-panels';

/** What the referral buttons do to the main area: show a view instead of the open study. */
export interface ReferralNavigation {
  referralView: ReferralView | undefined;
  setReferralView: Dispatch<SetStateAction<ReferralView | undefined>>;
  closeStudy: () => void;
}

function LockButtons({ lock, panels }: { lock: LockController; panels: HeaderPanels }): JSX.Element {
  return (
    <>
      <button type="button" className="btn btn-small" data-testid="security-button" aria-pressed={panels.security} onClick={panels.toggleSecurity}>
        Security
      </button>
      <button type="button" className="btn btn-small" data-testid="lock-button" title="Lock the workstation: hides patient data until unlocked" onClick={() => void lock.lock('user')}>
        Lock
      </button>
    </>
  );
}

function ReferralButtons({ ui, log, nav }: { ui: ReferralCaseUi; log: Logger; nav: ReferralNavigation }): JSX.Element {
  return (
    <>
      <button
        type="button"
        className="btn btn-small"
        data-testid="new-referral-button"
        onClick={() => {
          startNewReferral(ui).then(
            (view) => {
              nav.closeStudy();
              nav.setReferralView(view);
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
        aria-pressed={nav.referralView?.kind === 'list'}
        onClick={() => {
          nav.closeStudy();
          nav.setReferralView((v) => (v?.kind === 'list' ? undefined : { kind: 'list' }));
        }}
      >
        My referrals
      </button>
    </>
  );
}

/** The header: app name and host, then one button per panel or view the deps offer. */
export function AppHeader({ deps, info, panels, nav }: { deps: AppDeps; info: AppInfo | undefined; panels: HeaderPanels; nav: ReferralNavigation }): JSX.Element {
  const { referralCases } = deps;
  return (
    <header className="app-header">
      <span className="app-name">{info?.name ?? 'Telerad Workstation'}</span>
      {info && (
        <span className="app-host" data-testid="app-host">
          {info.host === 'electron' ? 'desktop' : 'browser host'} · v{info.version}
        </span>
      )}
      <button type="button" className="btn btn-small app-sites-button" data-testid="sites-button" aria-pressed={panels.sites} onClick={panels.toggleSites}>
        Sites
      </button>
      {deps.audit && (
        <button type="button" className="btn btn-small" data-testid="audit-button" aria-pressed={panels.audit} onClick={panels.toggleAudit}>
          Audit
        </button>
      )}
      {deps.lock && <LockButtons lock={deps.lock} panels={panels} />}
      {deps.connectivity && <ConnectivityIndicator store={deps.connectivity} />}
      {deps.prefetch && <PrefetchStatus scheduler={deps.prefetch.scheduler} pressed={panels.prefetch} onToggle={panels.togglePrefetch} />}
      {deps.transfers && <TransfersButton store={deps.transfers} pressed={panels.transfers} onToggle={panels.toggleTransfers} />}
      {deps.storage && <StorageButton pressed={panels.storage} onToggle={panels.toggleStorage} />}
      {deps.outbox && <OutboxButton outbox={deps.outbox.jobs} pressed={panels.outbox} onToggle={panels.toggleOutbox} />}
      {referralCases && <ReferralButtons ui={referralCases} log={deps.log} nav={nav} />}
    </header>
  );
}

/** The panels that drop down under the header, and the delivery toasts. */
export function HeaderDropDowns({ deps, panels }: { deps: AppDeps; panels: HeaderPanels }): JSX.Element {
  return (
    <>
      {deps.outbox && panels.outbox && <OutboxPanel outbox={deps.outbox.jobs} onClose={panels.closeOutbox} />}
      {deps.outbox && <DeliveryToasts notices={deps.outbox.notices} />}
      {deps.transfers && panels.transfers && <TransfersPanel store={deps.transfers} />}
      {deps.storage && panels.storage && <StoragePanel store={deps.storage} onClose={panels.closeStorage} />}
      {deps.prefetch && panels.prefetch && <PrefetchPanel settings={deps.prefetch.settings} sites={deps.worklist.getState().sites.map((s) => s.site)} />}
    </>
  );
}
