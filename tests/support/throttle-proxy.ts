// A loopback TCP proxy that behaves like a slow WAN link: one shared link of
// `bitsPerSecond` each way (every connection queues on it, as on a real
// access line) and `rttMs` of round-trip delay (half each way). It counts
// the bytes that cross it, HTTP headers and all, as they are on the wire:
// compressed when the server gzipped them.
//
// Not modelled: TCP slow start and loss. Each connection may have at most
// `windowBytes` in flight on the link before its source is paused, which
// bounds the proxy's memory and stands in for a receive window.
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export interface ThrottleProxyOptions {
  upstreamPort: number;
  upstreamHost?: string;
  bitsPerSecond: number;
  rttMs: number;
  windowBytes?: number;
}

export interface ThrottleProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Bytes server → client since the last reset. */
  bytesDown(): number;
  /** Bytes client → server since the last reset. */
  bytesUp(): number;
  resetCounters(): void;
  close(): Promise<void>;
}

/** The time each byte leaves a serial link: a shared clock of when the link is next free. */
class Link {
  private nextFree = 0;
  constructor(
    private readonly bytesPerMs: number,
    private readonly delayMs: number,
  ) {}

  /** When `n` bytes handed to the link now arrive at the other end (ms, performance.now clock). */
  deliveryTime(n: number): number {
    const start = Math.max(performance.now(), this.nextFree);
    this.nextFree = start + n / this.bytesPerMs;
    return this.nextFree + this.delayMs;
  }
}

/** Slices so the pacing is smooth: a 64 kB chunk at 10 Mbit/s would otherwise arrive as one 52 ms lump. */
const SLICE = 8 * 1024;

/** Carries `src` to `dst` over `link`, in order, pausing `src` while more than `windowBytes` are in flight. */
function pace(src: Socket, dst: Socket, link: Link, windowBytes: number, count: (n: number) => void): void {
  const queue: Array<{ at: number; chunk: Buffer | null }> = [];
  let inFlight = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const drain = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now + 0.5) {
      const { chunk } = queue.shift()!;
      if (chunk === null) {
        dst.end();
        return;
      }
      inFlight -= chunk.length;
      if (!dst.destroyed) dst.write(chunk);
    }
    if (inFlight < windowBytes / 2 && src.isPaused()) src.resume();
    arm();
  };
  const arm = (): void => {
    if (timer !== undefined || queue.length === 0) return;
    timer = setTimeout(drain, Math.max(0, queue[0]!.at - performance.now()));
  };

  src.on('data', (data: Buffer) => {
    count(data.length);
    for (let off = 0; off < data.length; off += SLICE) {
      const chunk = data.subarray(off, off + SLICE);
      inFlight += chunk.length;
      queue.push({ at: link.deliveryTime(chunk.length), chunk });
    }
    if (inFlight > windowBytes) src.pause();
    arm();
  });
  src.on('end', () => {
    queue.push({ at: (queue.at(-1)?.at ?? performance.now()) + 0, chunk: null });
    arm();
  });
  const kill = (): void => {
    if (timer) clearTimeout(timer);
    queue.length = 0;
    dst.destroy();
  };
  src.on('error', kill);
  src.on('close', (hadError) => {
    if (hadError) kill();
  });
}

export async function startThrottleProxy(opts: ThrottleProxyOptions): Promise<ThrottleProxy> {
  const bytesPerMs = opts.bitsPerSecond / 8 / 1000;
  const oneWay = opts.rttMs / 2;
  const down = new Link(bytesPerMs, oneWay);
  const up = new Link(bytesPerMs, oneWay);
  const windowBytes = opts.windowBytes ?? 1024 * 1024;
  let bytesDown = 0;
  let bytesUp = 0;
  const sockets = new Set<Socket>();

  const server = net.createServer((client) => {
    const server = net.connect({ host: opts.upstreamHost ?? '127.0.0.1', port: opts.upstreamPort });
    for (const s of [client, server]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.setNoDelay(true);
    }
    // The TCP handshake costs a round trip before the first byte, as on a real link.
    client.pause();
    server.once('connect', () => {
      setTimeout(() => {
        pace(client, server, up, windowBytes, (n) => (bytesUp += n));
        pace(server, client, down, windowBytes, (n) => (bytesDown += n));
        client.resume();
      }, opts.rttMs);
    });
    server.once('error', () => client.destroy());
    client.once('error', () => server.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bytesDown: () => bytesDown,
    bytesUp: () => bytesUp,
    resetCounters() {
      bytesDown = 0;
      bytesUp = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
