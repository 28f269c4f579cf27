/**
 * The Electron shell. Everything the app does lives in createAppServices;
 * this file only wires it to Electron: the telerad:// origin (renderer files
 * and the site gateway), the contract over IPC, and the window locks.
 */
import { BrowserWindow, Menu, app, ipcMain, powerMonitor, protocol, safeStorage, session } from 'electron';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redactor } from '../shared/log';
import { hasFlag, readFlag } from './cli-args';
import { APP_ENTRY_URL, APP_SCHEME } from './hosts/electron/app-origin';
import { createAppProtocolHandler } from './hosts/electron/app-protocol';
import { registerIpcTransport } from './hosts/electron/ipc-transport';
import { lockDownContents, lockDownSession } from './hosts/electron/lock-down';
import { createMainWindowOptions } from './hosts/electron/window-options';
import { createAppServices } from './services/app-services';
import { createFileLogSink, mainLogPath } from './services/log/file-log-sink';
import { ensurePrivateDataDir } from './services/fs/private-json-file';
import { SafeStorageSecretStore } from './services/secrets/safe-storage-secret-store';
import { loadProvisioningFile } from './services/sites/provisioning';
import { safeStorageOuterWrap } from './services/vault/safe-storage-outer-wrap';
import { defaultUnlockAttemptsDir } from './services/vault/unlock-attempts';
import { errorMessage } from '../shared/error-message';
import { assertAuditTransportAllowed, checkAuditRepositoryFlags, effectiveAuditRepository, loadAppSettings } from './services/settings/app-settings';

// Must run before `ready`: a standard, secure scheme gets a real origin, fetch and streaming.
protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

// Before `ready` too: keeps the Chromium profile (IndexedDB cache) with the rest of the data.
const dataDirFlag = readFlag(process.argv, 'data-dir');
if (dataDirFlag) app.setPath('userData', resolve(dataDirFlag));

async function start(): Promise<void> {
  app.enableSandbox();
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents));
  await app.whenReady();

  const dataDir = app.getPath('userData');
  await ensurePrivateDataDir(dataDir);
  // A packaged build has no menu: its View menu would offer DevTools and reload to whoever sits at the screen.
  if (app.isPackaged) Menu.setApplicationMenu(null);
  const redactor = new Redactor();
  const sink = createFileLogSink(mainLogPath(dataDir), redactor, { echo: process.stderr });
  const secretStore = new SafeStorageSecretStore(safeStorage, join(dataDir, 'secrets.enc.json'), redactor, {
    platform: process.platform,
    allowBasicText: hasFlag(process.argv, 'allow-basic-text-secrets'),
  });
  const vaultOuterWrap = await safeStorageOuterWrap(safeStorage, process.platform);
  // --audit-repository / --audit-ca replace settings.json's audit entry; either being wrong stops the start, naming it.
  const auditFlags = { repository: readFlag(process.argv, 'audit-repository'), caFile: readFlag(process.argv, 'audit-ca') };
  const auditCa = auditFlags.caFile !== undefined ? readFileSync(resolve(auditFlags.caFile), 'utf8') : undefined;
  checkAuditRepositoryFlags({ ...auditFlags, caCertificate: auditCa });
  const auditRepository = effectiveAuditRepository(await loadAppSettings(dataDir), { repository: auditFlags.repository, caCertificate: auditCa });
  assertAuditTransportAllowed(auditRepository);
  const services = createAppServices({
    dataDir,
    host: 'electron',
    version: app.getVersion(),
    secretStore,
    logSink: sink,
    redactor,
    ...(vaultOuterWrap ? { vaultOuterWrap } : {}),
    ...(auditRepository ? { auditRepository } : {}),
    // The user's state folder, not userData: --data-dir moves userData, and a copy of it must not carry the count.
    unlockAttemptsDir: defaultUnlockAttemptsDir(process.env, homedir(), process.platform),
  });
  const log = services.log.child('electron');
  if (!vaultOuterWrap) log.warn('OS encryption (safeStorage) is unavailable or basic_text: the vault key file is protected by the passphrase alone');
  // The key leaves memory when the user walks away from the machine, whatever the app's own idle timer says.
  powerMonitor.on('lock-screen', () => void services.lock('os-lock'));
  powerMonitor.on('suspend', () => void services.lock('suspend'));
  const secretsRefusal = await secretStore.refusalReason();
  if (secretsRefusal) log.warn(secretsRefusal);

  const sitesFile = readFlag(process.argv, 'sites');
  if (sitesFile) {
    try {
      await services.sites.provision(await loadProvisioningFile(resolve(sitesFile)));
    } catch (err) {
      log.error('Site provisioning failed', err);
      app.exit(1);
      return;
    }
  }

  lockDownSession(session.defaultSession);

  protocol.handle(
    APP_SCHEME,
    createAppProtocolHandler({ rendererDir: join(__dirname, '..', 'renderer'), gateway: services.gateway, log: log.child('protocol') }),
  );
  registerIpcTransport(ipcMain, services.dispatch, log.child('ipc'));

  const createWindow = (): BrowserWindow => {
    const win = new BrowserWindow(createMainWindowOptions(join(__dirname, '..', 'preload', 'index.cjs')));
    win.once('ready-to-show', () => win.show());
    void win.loadURL(APP_ENTRY_URL);
    return win;
  };
  let mainWindow = createWindow();

  app.on('second-instance', () => {
    if (mainWindow.isDestroyed()) mainWindow = createWindow();
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow();
  });
  // No window, no lock screen: the key leaves memory before anything else (issue 18).
  app.on('window-all-closed', () => void services.lock('no-page').finally(() => app.quit()));
  app.on('will-quit', () => {
    // The cursor is already in the page cache after every message; this ends the connection cleanly and fsyncs it.
    void services.auditForwarder?.close();
    sink.close();
  });
  log.info(`Electron host started, data in ${dataDir}`);
}

// A second launch hands over to the running instance (its window is focused) and exits.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  start().catch((err: unknown) => {
    process.stderr.write(`telerad failed to start: ${errorMessage(err)}\n`);
    app.exit(1);
  });
}
