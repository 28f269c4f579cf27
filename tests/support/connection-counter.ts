// A loopback TCP proxy that counts the TCP connections made through it, to
// tell whether a client reuses its keep-alive connections: put it between the
// app's site gateway and a real Orthanc (the site URL points here) and read
// `connections()` after a run of requests.
//
// With `tls` it terminates TLS itself (key and certificate given by the test)
// and passes plain HTTP on, so an https site with a custom CA can be counted
// the same way.
//
//   const counter = await startConnectionCounter({ upstreamPort: orthanc.port });
//   … requests to `${counter.url}/dicom-web/…` …
//   expect(counter.connections()).toBe(1);
//   await counter.close();
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';

export interface ConnectionCounterOptions {
  upstreamPort: number;
  upstreamHost?: string;
  /** Terminate TLS with this key and certificate (PEM); the upstream leg stays plain. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ConnectionCounter {
  /** http://127.0.0.1:PORT, or https:// with `tls`. */
  url: string;
  port: number;
  /** TCP connections accepted since the start or the last reset. */
  connections(): number;
  resetCounters(): void;
  close(): Promise<void>;
}

export async function startConnectionCounter(opts: ConnectionCounterOptions): Promise<ConnectionCounter> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const relay = (client: Socket): void => {
    const upstream = net.connect({ host: opts.upstreamHost ?? '127.0.0.1', port: opts.upstreamPort });
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side closing closes the other, as a direct connection would.
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  };

  const server: net.Server = opts.tls ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, relay) : net.createServer(relay);
  // Counted at the TCP accept, before any handshake: a refused TLS handshake is still a connection made.
  server.on('connection', (raw: Socket) => {
    accepted += 1;
    if (opts.tls) track(raw);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    resetCounters() {
      accepted = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
