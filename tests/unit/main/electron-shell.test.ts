import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpcMainInvokeEvent } from 'electron';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_NAMES } from '../../../src/shared/ipc/contract';
import { GATEWAY_ERROR_HEADER } from '../../../src/shared/gateway';
import { createLogger, memorySink } from '../../../src/shared/log';
import { createAppProtocolHandler } from '../../../src/main/hosts/electron/app-protocol';
import { IPC_CHANNEL_PREFIX, registerIpcTransport } from '../../../src/main/hosts/electron/ipc-transport';
import { decidePermission, decideWindowOpen, isNavigationAllowed } from '../../../src/main/hosts/electron/navigation-policy';
import { isTrustedSender } from '../../../src/main/hosts/electron/trusted-sender';
import { createMainWindowOptions } from '../../../src/main/hosts/electron/window-options';
import { IPC_CHANNEL_PREFIX as PRELOAD_PREFIX, createTeleradBridge } from '../../../src/preload/bridge';
import { hasFlag, readFlag } from '../../../src/main/cli-args';

// These modules import only types from 'electron', so they run in plain Node;
// requiring 'electron' itself here would try to download its binary.

describe('navigation lock', () => {
  it('allows navigation within telerad://app only', () => {
    expect(isNavigationAllowed('telerad://app/index.html')).toBe(true);
    expect(isNavigationAllowed('telerad://app/viewer?study=1.2.3')).toBe(true);
  });

  it.each([
    'https://example.invalid/',
    'http://127.0.0.1:8042/app/explorer.html',
    'file:///etc/passwd',
    'telerad://other/index.html',
    'telerad://app@evil.example/',
    'telerad://app.evil.example/',
    'javascript:alert(1)',
    'not a url',
  ])('refuses to navigate to %s', (url) => {
    expect(isNavigationAllowed(url)).toBe(false);
  });

  it('denies every new window, even to the app itself', () => {
    expect(decideWindowOpen('telerad://app/index.html')).toEqual({ action: 'deny' });
    expect(decideWindowOpen('https://example.invalid/')).toEqual({ action: 'deny' });
  });

  it('denies every permission request and check', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      expect(decidePermission(permission, 'telerad://app/index.html')).toBe(false);
    }
  });
});

describe('IPC sender check', () => {
  it('trusts only frames showing the app', () => {
    expect(isTrustedSender({ url: 'telerad://app/index.html' })).toBe(true);
    expect(isTrustedSender({ url: 'https://example.invalid/' })).toBe(false);
    expect(isTrustedSender({ url: '' })).toBe(false);
    expect(isTrustedSender(null)).toBe(false);
  });

  it('registers one handler per contract channel and refuses senders outside the app', async () => {
    const handlers = new Map<string, (event: IpcMainInvokeEvent, payload: unknown) => Promise<unknown>>();
    const fakeIpcMain = {
      handle: (channel: string, fn: (event: IpcMainInvokeEvent, payload: unknown) => Promise<unknown>) => handlers.set(channel, fn),
      removeHandler: (channel: string) => handlers.delete(channel),
    };
    const calls: string[] = [];
    const dispose = registerIpcTransport(
      fakeIpcMain as never,
      async (channel) => {
        calls.push(channel);
        return { ok: true, value: [] };
      },
      createLogger('t', memorySink()),
    );
    expect([...handlers.keys()].sort()).toEqual(CHANNEL_NAMES.map((c) => `${IPC_CHANNEL_PREFIX}${c}`).sort());

    const handler = handlers.get('telerad:sites.list')!;
    const event = (url: string): IpcMainInvokeEvent => ({ senderFrame: { url } }) as unknown as IpcMainInvokeEvent;
    expect(await handler(event('telerad://app/index.html'), {})).toEqual({ ok: true, value: [] });
    expect(await handler(event('https://evil.example/'), {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(calls).toEqual(['sites.list']);
    dispose();
    expect(handlers.size).toBe(0);
  });
});

describe('main window options', () => {
  it('isolate the renderer: context isolation, sandbox, no Node, web security, the preload bundle', () => {
    const prefs = createMainWindowOptions('/app/dist/preload/index.cjs').webPreferences!;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: '/app/dist/preload/index.cjs',
    });
  });
});

describe('preload bridge', () => {
  it('uses the same IPC channel prefix as main', () => {
    expect(PRELOAD_PREFIX).toBe(IPC_CHANNEL_PREFIX);
  });

  it('exposes only host and invoke', () => {
    expect(Object.keys(createTeleradBridge(async () => null)).sort()).toEqual(['host', 'invoke']);
  });

  it('answers an unknown channel itself, without touching IPC', async () => {
    const sent: string[] = [];
    const bridge = createTeleradBridge(async (channel) => {
      sent.push(channel);
      return { ok: true, value: null };
    });
    expect(await bridge.invoke('fs.readFile', { path: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    expect(await bridge.invoke('sites.list', {})).toEqual({ ok: true, value: null });
    expect(sent).toEqual(['telerad:sites.list']);
  });

  it('turns an IPC failure into an INTERNAL envelope', async () => {
    const bridge = createTeleradBridge(async () => {
      throw new Error('No handler registered');
    });
    expect(await bridge.invoke('app.info', {})).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
  });
});

describe('telerad:// protocol handler', () => {
  let root: string;
  const gatewayCalls: string[] = [];
  const handler = (): ((r: Request) => Promise<Response>) =>
    createAppProtocolHandler({
      rendererDir: join(root, 'renderer'),
      gateway: async (request) => {
        gatewayCalls.push(new URL(request.url).pathname);
        return new Response('[]', { headers: { 'content-type': 'application/dicom+json', 'content-security-policy': "default-src *" } });
      },
      log: createLogger('t', memorySink()),
    });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'telerad-proto-'));
    mkdirSync(join(root, 'renderer', 'assets'), { recursive: true });
    writeFileSync(join(root, 'renderer', 'index.html'), '<!doctype html><title>Telerad</title>');
    writeFileSync(join(root, 'renderer', 'assets', 'codec.wasm'), Buffer.from([0, 97, 115, 109]));
    writeFileSync(join(root, 'outside.txt'), 'outside the renderer');
    symlinkSync(join(root, 'outside.txt'), join(root, 'renderer', 'link.txt'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('serves index.html for / with the CSP and nosniff headers', async () => {
    const res = await handler()(new Request('telerad://app/'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toContain('Telerad');
  });

  it('serves .wasm as application/wasm', async () => {
    const res = await handler()(new Request('telerad://app/assets/codec.wasm'));
    expect(res.headers.get('content-type')).toBe('application/wasm');
  });

  it('refuses files outside the renderer directory, through a symlink too', async () => {
    expect((await handler()(new Request('telerad://app/link.txt'))).status).toBe(404);
    expect((await handler()(new Request('telerad://app/%2e%2e/outside.txt'))).status).toBe(404);
    expect((await handler()(new Request('telerad://app/..%2foutside.txt'))).status).toBe(404);
  });

  it('routes /sites/ to the gateway and puts the app CSP over the site one', async () => {
    const res = await handler()(new Request('telerad://app/sites/hospital-a/dicom-web/studies'));
    expect(gatewayCalls).toEqual(['/sites/hospital-a/dicom-web/studies']);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('answers other hosts of the scheme with 404', async () => {
    const res = await handler()(new Request('telerad://elsewhere/index.html'));
    expect(res.status).toBe(404);
    expect(res.headers.get(GATEWAY_ERROR_HEADER)).toBe('NOT_FOUND');
  });
});

describe('command line flags', () => {
  it('reads --name value and --name=value among Electron and Chromium switches', () => {
    const argv = ['/usr/bin/electron', '.', '--no-sandbox', '--data-dir', '/tmp/d', '--sites=/tmp/s.json'];
    expect(readFlag(argv, 'data-dir')).toBe('/tmp/d');
    expect(readFlag(argv, 'sites')).toBe('/tmp/s.json');
    expect(readFlag(argv, 'port')).toBeUndefined();
    expect(readFlag(['--data-dir', '--no-sandbox'], 'data-dir')).toBeUndefined();
  });

  it('sees the bare --allow-basic-text-secrets switch, and not a longer one that starts the same', () => {
    expect(hasFlag(['/usr/bin/electron', '.', '--allow-basic-text-secrets'], 'allow-basic-text-secrets')).toBe(true);
    expect(hasFlag(['/usr/bin/electron', '.', '--allow-basic-text-secrets-later'], 'allow-basic-text-secrets')).toBe(false);
    expect(hasFlag(['/usr/bin/electron', '.'], 'allow-basic-text-secrets')).toBe(false);
  });
});
