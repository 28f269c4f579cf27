import { useEffect, useState, useSyncExternalStore } from 'react';
import type { FormEvent, JSX } from 'react';
import type { AuthType, CapabilityAnswer, SecretProtection, SiteSummary, SiteTestResult } from '../../shared/ipc/contract';
import { SITE_TIMEOUT_BOUNDS } from '../../shared/ipc/contract';
import type { SiteFormErrors, SiteFormValues } from './site-form';
import { buildSiteRequest, emptySiteForm, keepsStoredSecret, needsInsecureHttpConsent, siteFormFor } from './site-form';
import { isUnencryptedRemoteUrl } from '../../shared/sites/plain-http';
import type { SiteTestState, SitesStore } from './sites-store';
import './sites.css';

export interface SitesPanelProps {
  store: SitesStore;
  onClose: () => void;
}

type Editing = { mode: 'add' } | { mode: 'edit'; site: SiteSummary } | undefined;

const CAPABILITY_LABEL = {
  qido: 'QIDO-RS (search)',
  wado: 'WADO-RS (retrieve)',
  stow: 'STOW-RS (store)',
  jpegLsLossless: 'JPEG-LS lossless',
  rendered: 'Previews (/rendered)',
} as const;
type CapabilityKey = keyof typeof CAPABILITY_LABEL;
const CAPABILITY_KEYS = Object.keys(CAPABILITY_LABEL) as CapabilityKey[];

const FAILURE_TITLE: Record<NonNullable<SiteTestResult['failure']>['kind'], string> = {
  auth: 'Authentication failed',
  unreachable: 'Unreachable',
  timeout: 'Timed out',
  tls: 'TLS certificate error',
  http: 'Not a DICOMweb site',
};

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatLatency(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function Answer({ value }: { value: CapabilityAnswer }): JSX.Element {
  return (
    <span className="cap-answer" data-answer={value}>
      {value}
    </span>
  );
}

function TestResult({ test }: { test: SiteTestState }): JSX.Element {
  if (test.state === 'running') {
    return (
      <div className="site-test-result" data-testid="site-test-result" data-state="running">
        Testing…
      </div>
    );
  }
  if (test.state === 'error' || !test.result) {
    return (
      <div className="site-test-result is-error" data-testid="site-test-result" data-state="error">
        The test could not run: {test.error ?? 'no answer'}
      </div>
    );
  }
  const r = test.result;
  return (
    <div
      className={`site-test-result${r.ok ? '' : ' is-error'}`}
      data-testid="site-test-result"
      data-state={r.ok ? 'ok' : 'failed'}
      data-failure={r.failure?.kind ?? ''}
    >
      {r.failure && (
        <p className="site-test-failure" title={FAILURE_TITLE[r.failure.kind]}>
          <strong>{capitalise(r.failure.message)}</strong>
        </p>
      )}
      {r.ok && (
        <p>
          Latency <span data-testid="site-test-latency">{formatLatency(r.capabilities.latencyMs)}</span> (median of 3 searches)
        </p>
      )}
      {r.ok && (
        <ul className="caps">
          {CAPABILITY_KEYS.map((key) => {
            // `rendered` is optional in the contract (tests stored before it existed); untested reads as unknown.
            const answer = r.capabilities[key] ?? 'unknown';
            return (
              <li key={key} data-capability={key} data-answer={answer}>
                <span className="cap-label">{CAPABILITY_LABEL[key]}</span> <Answer value={answer} />
                {r.notes[key] && <span className="cap-note"> — {r.notes[key]}</span>}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

function SiteRow({
  site,
  test,
  onEdit,
  onTest,
  onRemove,
}: {
  site: SiteSummary;
  test: SiteTestState | undefined;
  onEdit: () => void;
  onTest: () => void;
  onRemove: () => Promise<string | undefined>;
}): JSX.Element {
  const [confirming, setConfirming] = useState(false);
  const [removeError, setRemoveError] = useState<string | undefined>(undefined);
  const caps = site.capabilities;
  return (
    <li className="site-row" data-testid="site-row" data-site-id={site.id}>
      <div className="site-row-head">
        <div className="site-row-title">
          <span className="site-name">{site.name}</span>
          <span className="site-url">
            {site.url}
            {isUnencryptedRemoteUrl(site.url) && (
              <span className="site-badge-unencrypted" data-testid="site-unencrypted" title="Plain HTTP: patient data and credentials cross the network unencrypted">
                unencrypted
              </span>
            )}
          </span>
          <span className="site-meta">
            {site.authType === 'none' ? 'no authentication' : site.authType === 'basic' ? `basic · ${site.username ?? ''}` : 'bearer token'}
            {site.hasCustomCa ? ' · custom CA' : ''}
            {site.timeouts ? ` · timeouts ${site.timeouts.connectMs} / ${site.timeouts.idleMs} ms` : ''}
          </span>
          {caps && (
            <span className="site-meta" data-testid="site-capabilities">
              last test {new Date(caps.testedAt).toLocaleString()}: {formatLatency(caps.latencyMs)}, JPEG-LS {caps.jpegLsLossless}
              {caps.rendered !== undefined ? `, previews ${caps.rendered}` : ''}
            </span>
          )}
        </div>
        <div className="site-row-actions">
          <button type="button" className="btn btn-small" data-testid="site-test" onClick={onTest} disabled={test?.state === 'running'}>
            Test connection
          </button>
          <button type="button" className="btn btn-small" data-testid="site-edit" onClick={onEdit}>
            Edit
          </button>
          {confirming ? (
            <span className="confirm" data-testid="site-remove-confirm">
              Remove {site.name}?{' '}
              <button
                type="button"
                className="btn btn-small btn-danger"
                data-testid="site-remove-yes"
                onClick={() => {
                  void onRemove().then((err) => {
                    setRemoveError(err);
                    setConfirming(false);
                  });
                }}
              >
                Remove
              </button>{' '}
              <button type="button" className="btn btn-small" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button type="button" className="btn btn-small" data-testid="site-remove" onClick={() => setConfirming(true)}>
              Remove
            </button>
          )}
        </div>
      </div>
      {removeError && <p className="field-error">{removeError}</p>}
      {test && <TestResult test={test} />}
    </li>
  );
}

function Field({ label, error, children }: { label: string; error: string | undefined; children: JSX.Element }): JSX.Element {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {error && <span className="field-error">{error}</span>}
    </label>
  );
}


function dataFolderOf(location: string): string {
  const cut = Math.max(location.lastIndexOf('/'), location.lastIndexOf('\\'));
  return cut > 0 ? location.slice(0, cut) : location;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * What protects the password typed into this form, in plain words, and on
 * Linux without a keyring the user's explicit, withdrawable choice to keep
 * passwords anyway. The choice lives in main, not in the form.
 */
function SecretProtectionNotice({
  protection,
  error,
  onChoose,
}: {
  protection: SecretProtection | undefined;
  error: string | undefined;
  onChoose: (accept: boolean) => void;
}): JSX.Element | null {
  if (!protection) return error ? <p className="field-error">Could not tell how site passwords are protected: {error}</p> : null;
  const body = ((): JSX.Element => {
    switch (protection.kind) {
      case 'keyring':
        return <p>Site passwords and tokens are encrypted with this computer&apos;s keyring before they are stored.</p>;
      case 'unavailable':
        return (
          <p>
            <strong>This computer offers no encryption for site passwords.</strong> They cannot be stored; only sites without authentication can be added.
          </p>
        );
      case 'owner-only-file':
        return (
          <p>
            <strong>How the password is kept:</strong> this browser host has no keyring. Site passwords and tokens are stored unencrypted in{' '}
            <code>{protection.location}</code>, a file only your user account may read (mode 0600). That protects them from other users of this
            computer, not from programs running as you, an administrator, or anyone who copies the file or the disk.
          </p>
        );
      case 'basic_text': {
        const byFlag = protection.weakAcceptedBy === 'launch-flag';
        const accepted = protection.weakAcceptedBy !== undefined;
        return (
          <>
            <p>
              <strong>No keyring (GNOME Keyring, KWallet) is available.</strong> Electron then encrypts site passwords with a fixed key that is public,
              built into every copy of Chromium: anyone who copies the data folder <code>{dataFolderOf(protection.location)}</code> can read them.
              {accepted ? '' : ' Passwords are not stored unless you accept this.'}
            </p>
            <label className="checkbox">
              <input
                type="checkbox"
                name="acceptWeakSecretProtection"
                checked={accepted}
                disabled={byFlag}
                onChange={(e) => onChoose(e.target.checked)}
              />{' '}
              Keep site passwords with weak protection on this computer
            </label>
            {byFlag && <p className="secret-protection-note">Accepted for this launch by --allow-basic-text-secrets.</p>}
            {protection.weakAcceptedBy === 'choice' && protection.weakSecretCount > 0 && (
              <p className="secret-protection-note">
                Unticking deletes the {plural(protection.weakSecretCount, 'password', 'passwords')} kept this way; those sites will need theirs again.
              </p>
            )}
          </>
        );
      }
    }
  })();
  return (
    <div
      className={`secret-protection${protection.kind === 'keyring' ? '' : ' is-weak'}`}
      data-testid="secret-protection"
      data-kind={protection.kind}
      data-can-store={protection.canStore}
    >
      {body}
      {error && <p className="field-error">{error}</p>}
    </div>
  );
}

function SiteForm({
  editing,
  protection,
  protectionError,
  onChooseWeakProtection,
  onSave,
  onCancel,
}: {
  editing: SiteSummary | undefined;
  protection: SecretProtection | undefined;
  protectionError: string | undefined;
  onChooseWeakProtection: (accept: boolean) => void;
  onSave: (values: SiteFormValues) => Promise<SiteFormErrors | undefined>;
  onCancel: () => void;
}): JSX.Element {
  const [values, setValues] = useState<SiteFormValues>(() => (editing ? siteFormFor(editing) : emptySiteForm()));
  const [errors, setErrors] = useState<SiteFormErrors>({});
  const [saving, setSaving] = useState(false);
  const set = <K extends keyof SiteFormValues>(key: K, value: SiteFormValues[K]): void => setValues((v) => ({ ...v, [key]: value }));
  // A URL moved to another origin asks for the secret again: main will not send the stored one there.
  const keepsSecret = keepsStoredSecret(values, editing);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setSaving(true);
    void onSave(values).then((errs) => {
      setSaving(false);
      setErrors(errs ?? {});
    });
  };

  return (
    <form className="site-form" data-testid="site-form" onSubmit={submit} noValidate>
      <h3>{editing ? `Edit ${editing.name}` : 'Add a site'}</h3>
      <Field label="Name" error={errors.name}>
        <input name="name" value={values.name} onChange={(e) => set('name', e.target.value)} autoComplete="off" />
      </Field>
      <Field label="DICOMweb URL" error={errors.url}>
        <input name="url" value={values.url} onChange={(e) => set('url', e.target.value)} placeholder="https://pacs.example.org/dicom-web" autoComplete="off" />
      </Field>
      {needsInsecureHttpConsent(values) && (
        <div className="insecure-http-warning" role="alert" data-testid="insecure-http-warning">
          <p>
            <strong>Plain HTTP to another machine.</strong> Images, reports and this site&apos;s password would cross the network unencrypted, readable by
            anyone on the way. Use https unless this network is trusted end to end.
          </p>
          <label className="checkbox">
            <input type="checkbox" name="allowInsecureHttp" checked={values.allowInsecureHttp} onChange={(e) => set('allowInsecureHttp', e.target.checked)} /> Send patient
            data unencrypted to this site
          </label>
          {errors.allowInsecureHttp && <span className="field-error">{errors.allowInsecureHttp}</span>}
        </div>
      )}
      <fieldset className="auth-switch">
        <legend>Authentication</legend>
        {(['none', 'basic', 'bearer'] as AuthType[]).map((t) => (
          <label key={t}>
            <input type="radio" name="authType" value={t} checked={values.authType === t} onChange={() => set('authType', t)} />
            {AUTH_TYPE_LABEL[t]}
          </label>
        ))}
        {errors.authType && <span className="field-error">{errors.authType}</span>}
      </fieldset>
      {values.authType === 'basic' && (
        <>
          <Field label="User name" error={errors.username}>
            <input name="username" value={values.username} onChange={(e) => set('username', e.target.value)} autoComplete="off" />
          </Field>
          <Field label={keepsSecret ? 'Password (leave empty to keep the stored one)' : 'Password'} error={errors.password}>
            <input name="password" type="password" value={values.password} onChange={(e) => set('password', e.target.value)} autoComplete="new-password" />
          </Field>
        </>
      )}
      {values.authType === 'bearer' && (
        <Field label={keepsSecret ? 'Token (leave empty to keep the stored one)' : 'Token'} error={errors.token}>
          <input name="token" type="password" value={values.token} onChange={(e) => set('token', e.target.value)} autoComplete="off" />
        </Field>
      )}
      {values.authType !== 'none' && <SecretProtectionNotice protection={protection} error={protectionError} onChoose={onChooseWeakProtection} />}
      <Field
        label={editing?.hasCustomCa ? 'CA certificate (a custom CA is set; paste a new one to replace it)' : 'CA certificate (optional, PEM, for https sites with their own CA)'}
        error={errors.caCertificate}
      >
        <textarea
          name="caCertificate"
          rows={4}
          value={values.caCertificate}
          onChange={(e) => set('caCertificate', e.target.value)}
          placeholder="-----BEGIN CERTIFICATE-----"
          spellCheck={false}
          disabled={values.removeCa}
        />
      </Field>
      {editing?.hasCustomCa && (
        <label className="checkbox">
          <input type="checkbox" name="removeCa" checked={values.removeCa} onChange={(e) => set('removeCa', e.target.checked)} /> Remove the custom CA
        </label>
      )}
      <div className="field-pair">
        <Field label={`Connect timeout, ms (${SITE_TIMEOUT_BOUNDS.connectMs.min}–${SITE_TIMEOUT_BOUNDS.connectMs.max})`} error={errors.connectMs}>
          <input name="connectMs" inputMode="numeric" value={values.connectMs} onChange={(e) => set('connectMs', e.target.value)} />
        </Field>
        <Field label={`Idle timeout, ms (${SITE_TIMEOUT_BOUNDS.idleMs.min}–${SITE_TIMEOUT_BOUNDS.idleMs.max})`} error={errors.idleMs}>
          <input name="idleMs" inputMode="numeric" value={values.idleMs} onChange={(e) => set('idleMs', e.target.value)} />
        </Field>
      </div>
      {errors.form && <p className="field-error" data-testid="site-form-error">{errors.form}</p>}
      <div className="form-actions">
        <button type="submit" className="btn" data-testid="site-save" disabled={saving}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Site management: list, add, edit, remove, and "Test connection" for each site. */

const AUTH_TYPE_LABEL: Record<AuthType, string> = {
  none: 'None',
  basic: 'User name and password',
  bearer: 'Bearer token',
};

export function SitesPanel({ store, onClose }: SitesPanelProps): JSX.Element {
  const state = useSyncExternalStore(store.subscribe, store.getState);
  const [editing, setEditing] = useState<Editing>(undefined);

  useEffect(() => {
    void store.load();
    void store.loadSecretProtection();
  }, [store]);

  const save = async (values: SiteFormValues): Promise<SiteFormErrors | undefined> => {
    const site = editing?.mode === 'edit' ? editing.site : undefined;
    const built = buildSiteRequest(values, site);
    if (!built.ok) return built.errors;
    const outcome = built.kind === 'add' ? await store.add(built.request) : await store.update(built.request);
    if (!outcome.ok) return outcome.errors;
    setEditing(undefined);
    return undefined;
  };

  return (
    <section className="sites-panel" data-testid="sites-panel" aria-label="Sites">
      <div className="sites-panel-head">
        <h2>Sites</h2>
        <button type="button" className="btn btn-small" data-testid="site-add" onClick={() => setEditing({ mode: 'add' })} disabled={editing !== undefined}>
          Add site
        </button>
        <button type="button" className="btn btn-small sites-close" data-testid="sites-close" onClick={onClose}>
          Close
        </button>
      </div>
      {state.error && <p className="field-error">{state.error}</p>}
      {editing && (
        <SiteForm
          key={editing.mode === 'edit' ? editing.site.id : 'add'}
          editing={editing.mode === 'edit' ? editing.site : undefined}
          protection={state.secretProtection}
          protectionError={state.secretProtectionError}
          onChooseWeakProtection={(accept) => void store.chooseWeakSecretProtection(accept)}
          onSave={save}
          onCancel={() => setEditing(undefined)}
        />
      )}
      <ul className="site-list">
        {state.sites.map((site) => (
          <SiteRow
            key={site.id}
            site={site}
            test={state.tests[site.id]}
            onEdit={() => setEditing({ mode: 'edit', site })}
            onTest={() => void store.test(site.id)}
            onRemove={async () => {
              const outcome = await store.remove(site.id);
              if (!outcome.ok) return Object.values(outcome.errors)[0] ?? 'Removing failed';
              if (editing?.mode === 'edit' && editing.site.id === site.id) setEditing(undefined);
              return undefined;
            }}
          />
        ))}
        {state.sites.length === 0 && !state.loading && <li className="site-empty">No sites yet. Add the DICOMweb address of a hospital's PACS.</li>}
      </ul>
    </section>
  );
}
