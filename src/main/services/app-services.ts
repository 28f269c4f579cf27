import type { ServiceHandlers } from '../../shared/ipc/contract';
import type { Dispatch } from '../../shared/ipc/dispatcher';
import { createDispatcher } from '../../shared/ipc/dispatcher';
import type { LogSink, Logger, Redactor } from '../../shared/log';
import { createLogger } from '../../shared/log';
import type { SecretStore } from './secrets/secret-store';
import type { SiteGateway } from './sites/site-gateway';
import { createSiteGateway } from './sites/site-gateway';
import { SiteRepository } from './sites/site-repository';
import { SitesService, effectiveTimeouts } from './sites/sites-service';
import { testSiteConnection } from './sites/site-tester';
import { ServiceError } from '../../shared/ipc/envelope';
import { AuditLog, auditLogPath } from './audit/audit-log';
import { toDicomAuditMessage } from './audit/dicom-audit-message';
import { auditForwardCursorPath, createAuditForwarder } from './audit/audit-forwarder';
import type { AuditForwarder, AuditRepositoryConfig } from './audit/audit-forwarder';
import { hostname } from 'node:os';
import type { VaultLockReason, VaultOuterWrap } from './vault/vault-service';
import { VaultService } from './vault/vault-service';
import { VaultFile, vaultFilePath } from './vault/vault-file';
import { lockedDispatch } from './vault/locked-channel-policy';
import type { HostTimers, IdleLock } from './vault/idle-lock';
import { SYSTEM_TIMERS, createIdleLock } from './vault/idle-lock';

export interface AppServicesOptions {
  dataDir: string;
  host: 'electron' | 'web';
  version: string;
  secretStore: SecretStore;
  /** Where main's log lines go; the renderer's `log.write` lines go there too. */
  logSink: LogSink;
  /** The process's one Redactor; the secret store given here must register secrets with it. */
  redactor: Redactor;
  /** Replaces every site's own transport, in the gateway and in "Test connection" (tests only). */
  fetchImpl?: typeof fetch;
  gatewayTimeoutMs?: number;
  /** Stamps audit events; the system clock unless a test fixes it. */
  clock?: () => Date;
  /** Electron: safeStorage, wrapping the passphrase-wrapped master secret again. The browser host has none. */
  vaultOuterWrap?: VaultOuterWrap;
  /**
   * Outside the data folder: where wrong passphrases are counted too, per vault id, so a restored or edited
   * vault.json does not reset the wait (the hosts pass the user's state folder, `defaultUnlockAttemptsDir`).
   * Undefined (tests): counted in memory and vault.json only.
   */
  unlockAttemptsDir?: string;
  /** The Audit Record Repository the trail is forwarded to (settings.json or the command line); none: kept local only. */
  auditRepository?: AuditRepositoryConfig;
  /** The idle lock's clock and interval; the system's unless a test drives time. */
  timers?: HostTimers;
}

export interface AppServices {
  handlers: ServiceHandlers;
  dispatch: Dispatch;
  gateway: SiteGateway;
  sites: SitesService;
  log: Logger;
  /** The audit trail; hosts record what they see themselves (a refused launch token) here. */
  audit: AuditLog;
  /** Forwards the audit trail to the repository (started here); hosts close it on shutdown. Undefined when none is configured. */
  auditForwarder: AuditForwarder | undefined;
  /** The key to data at rest; the same object the `vault` handlers use. */
  vault: VaultService;
  /** For the host's own triggers (OS screen lock, suspend); a no-op when already locked. */
  lock: (reason: VaultLockReason) => Promise<void>;
  /** Main's own idle lock (started here); hosts stop it on shutdown. */
  idleLock: IdleLock;
}

/**
 * Everything main offers the renderer, built once per process. Both hosts
 * call this and differ only in how they carry `dispatch` (IPC or HTTP) and
 * `gateway` (protocol.handle or an http server).
 */
export function createAppServices(options: AppServicesOptions): AppServices {
  const log = createLogger('main', options.logSink, options.redactor);
  const sites = new SitesService(new SiteRepository(options.dataDir), options.secretStore, options.redactor, log.child('sites'));
  const audit = new AuditLog({
    filePath: auditLogPath(options.dataDir),
    clock: options.clock ?? (() => new Date()),
    log: log.child('audit'),
    redact: (text) => options.redactor.redact(text),
  });
  const vault = new VaultService({
    file: new VaultFile(vaultFilePath(options.dataDir)),
    ...(options.vaultOuterWrap ? { outerWrap: options.vaultOuterWrap } : {}),
    ...(options.unlockAttemptsDir !== undefined ? { unlockAttemptsDir: options.unlockAttemptsDir } : {}),
    now: () => (options.clock ?? (() => new Date()))().getTime(),
    audit,
    log: log.child('vault'),
  });
  const idleLock = createIdleLock({ vault, timers: options.timers ?? SYSTEM_TIMERS, log: log.child('idle-lock') });
  // The log is the durable queue; the forwarder keeps only its cursor beside it.
  const auditForwarder = options.auditRepository
    ? createAuditForwarder({
        repository: options.auditRepository,
        source: audit,
        cursorFile: auditForwardCursorPath(options.dataDir),
        hostname: hostname(),
        procId: process.pid,
        auditSource: { sourceId: `telerad-workstation/${options.host}@${hostname()}` },
        clock: options.clock ?? (() => new Date()),
        log: log.child('audit-forward'),
      })
    : undefined;
  void auditForwarder?.start();
  const gateway = createSiteGateway({
    sites,
    log: log.child('gateway'),
    onSiteAuthFailed: ({ siteId, status, studyInstanceUID }) =>
      audit.recordSystem({
        action: 'site.auth.failed',
        siteId,
        ...(studyInstanceUID ? { studyInstanceUID } : {}),
        outcome: 'failure',
        reason: `the site answered HTTP ${status} to the stored credentials`,
      }),
    ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
    ...(options.gatewayTimeoutMs !== undefined ? { timeoutMs: options.gatewayTimeoutMs } : {}),
    lock: vault,
  });

  const handlers: ServiceHandlers = {
    app: {
      info: async () => ({ name: 'Telerad Workstation', version: options.version, host: options.host }),
    },
    sites: {
      list: () => sites.list(),
      add: (request) => sites.add(request),
      update: (request) => sites.update(request),
      remove: ({ id }) => sites.remove(id),
      test: async ({ id }) => {
        // The site, its secret and its transport in one read, as the gateway reads them (no URL/secret race).
        let connection: Awaited<ReturnType<SitesService['connection']>>;
        try {
          connection = await sites.connection(id);
        } catch (err) {
          log.error(`No usable credentials for ${id}`, err);
          const name = (await sites.find(id))?.name ?? id;
          throw new ServiceError('SITE_AUTH_FAILED', `No usable credentials are stored for ${name}; enter them again`);
        }
        if (!connection) throw new ServiceError('NOT_FOUND', `No site with id "${id}"`);
        const { site, auth: authHeaders } = connection;
        const result = await testSiteConnection(site, {
          // The same transport as the gateway's, so the test measures the connections the viewer will get.
          fetchImpl: options.fetchImpl ?? connection.fetch ?? fetch,
          authHeaders,
          timeouts: effectiveTimeouts(site),
          log: log.child('site-test'),
        });
        // Only a site that answered has findings worth keeping; a failed test keeps the last good ones.
        if (result.ok) await sites.recordCapabilities(site, result.capabilities);
        return result;
      },
      secretProtection: () => options.secretStore.protection(),
      chooseWeakSecretProtection: async ({ accept }) => {
        const protection = await sites.chooseWeakSecretProtection(accept);
        log.child('sites').warn(
          accept
            ? 'The user chose to keep site passwords with weak protection (no keyring: fixed public key)'
            : `The user withdrew weak protection for site passwords; ${protection.weakSecretCount === 0 ? 'none is kept that way now' : 'some remain'}`,
        );
        return protection;
      },
    },
    log: {
      write: async (entry) => {
        // Renderer scopes are marked as such so nobody mistakes them for main's own.
        createLogger(`renderer:${entry.scope}`, options.logSink, options.redactor)[entry.level](entry.message);
        return null;
      },
    },
    vault: {
      status: () => vault.status(),
      // Unlocking is input at the screen: main's idle time starts from it.
      setup: async ({ passphrase }) => {
        const keys = await vault.setup(passphrase);
        idleLock.activity();
        return keys;
      },
      unlock: async ({ method, secret }) => {
        const keys = await vault.unlock(method, secret);
        idleLock.activity();
        return keys;
      },
      keys: async () => vault.keys(),
      outboxKey: async () => vault.outboxKey(),
      lock: async ({ reason }) => {
        await vault.lock(reason);
        return null;
      },
      setPin: async ({ pin, passphrase }) => {
        await vault.setPin(pin, passphrase);
        return null;
      },
      setIdleLock: async ({ minutes }) => {
        await vault.setIdleLock(minutes);
        return null;
      },
      activity: async () => {
        idleLock.activity();
        return null;
      },
    },
    audit: {
      record: async (event) => {
        const line = await audit.append({ ...event, source: 'renderer' });
        return { seq: line.seq };
      },
      query: ({ offset, limit, ...filter }) => audit.query(filter, { offset, limit }),
      exportDicom: async (filter) => {
        const events = await audit.readMatching(filter);
        const source = { sourceId: `telerad-workstation/${options.host}` };
        return { messages: events.map((e) => toDicomAuditMessage(e, source)), count: events.length };
      },
      status: async () => ({
        newestSeq: await audit.newestSeq(),
        forwarding: auditForwarder?.status() ?? { state: 'off', forwardedUpTo: 0, backlog: 0 },
        // After the unlock's check of the trail, which runs in the log's queue.
        integrity: await audit.checkedIntegrity(),
      }),
    },
  };

  return {
    handlers,
    // Every channel behind the vault's lock (issue 18): both hosts carry this one.
    dispatch: lockedDispatch(createDispatcher(handlers, log.child('ipc')), vault),
    gateway,
    sites,
    log,
    audit,
    auditForwarder,
    vault,
    lock: (reason) => vault.lock(reason),
    idleLock,
  };
}
