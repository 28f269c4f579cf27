// A loopback HTTP proxy for fault injection between the app's site gateway
// and a real Orthanc: the site URL in sites.json points here. It counts what
// passes (requests per SOP Instance UID, body bytes as they come off the
// wire, i.e. after Orthanc's gzip) and, on rules the test adds, cuts a body
// after N bytes, answers an error status, hangs, or rewrites the body (wrong
// multipart boundary, truncated body, malformed JSON).
//
//   const proxy = await startFaultProxy(orthanc.baseUrl);
//   proxy.addFault({ fault: { kind: 'cut', afterBytes: 50_000 }, match: isWado, skip: 3 });
//   … proxy.requestsFor(sop), proxy.wireBytes(isWado) …
//   await proxy.close();
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Forward the answer's headers and its first `afterBytes` body bytes, then drop the connection. */
  | { kind: 'cut'; afterBytes: number }
  /** Answer `status` without asking upstream. */
  | { kind: 'status'; status: number }
  /** Read the request and never answer. */
  | { kind: 'hang' }
  /** Fetch upstream uncompressed and send a damaged copy, with a Content-Length that matches the damage. */
  | { kind: 'rewrite'; body: 'wrong-boundary' | 'truncated' | 'malformed-json' | 'html-page' }
  /**
   * Drop both connections `offset` bytes into the exchange, counting the request body first and then the
   * response body as it comes off the wire: below the request's length upstream gets an incomplete request
   * (so it stores nothing); from there the answer is cut (upstream has acted on the whole request). At exactly
   * the request's length the client gets no answer at all.
   */
  | { kind: 'cut-at'; offset: number }
  /** Forward the request, take upstream's whole answer, and hold it back until clearFaults() (or the client leaves). */
  | { kind: 'hold-response' };

export interface ProxyRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  accept: string;
  /** For WADO-RS instance paths (the instance itself, not its /rendered preview). */
  sopInstanceUID?: string;
  /** For WADO-RS /rendered paths: the instance previewed. */
  renderedSopInstanceUID?: string;
}

export interface FaultRule {
  fault: Fault;
  match?: (req: ProxyRequest) => boolean;
  /** Matching requests let through untouched before this rule fires (the Kth response is `skip: K - 1`). */
  skip?: number;
  /** How many matching requests it fires on (default 1; Infinity for every one). */
  times?: number;
}

export interface ProxyExchange extends ProxyRequest {
  status: number;
  /** Body bytes received from upstream (as sent on the wire: compressed when Orthanc gzipped them). */
  wireBytes: number;
  contentEncoding?: string;
  fault?: Fault['kind'];
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT — the same paths as upstream. */
  url: string;
  port: number;
  /** Every finished exchange, in order of completion. */
  exchanges: ProxyExchange[];
  addFault(rule: FaultRule): void;
  /** Removes every rule and releases hanging requests. */
  clearFaults(): void;
  /** Forgets the exchanges counted so far. */
  resetCounters(): void;
  /** Requests seen for one SOP Instance UID (any outcome). */
  requestsFor(sopInstanceUID: string): number;
  /** Body bytes on the wire over the exchanges that `filter` keeps. */
  wireBytes(filter?: (e: ProxyExchange) => boolean): number;
  close(): Promise<void>;
}

/** WADO-RS of one instance. */
export const isWado = (r: ProxyRequest): boolean => r.sopInstanceUID !== undefined;

/** WADO-RS /rendered of one instance (a preview). */
export const isRendered = (r: ProxyRequest): boolean => r.renderedSopInstanceUID !== undefined;
/** STOW-RS: a POST of instances. */
export const isStow = (r: ProxyRequest): boolean => r.method === 'POST';
/** QIDO-RS (any level). */
export const isQido = (r: ProxyRequest): boolean => r.sopInstanceUID === undefined && /application\/dicom\+json|application\/json/.test(r.accept);

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);

/**
 * Node's http.Agent takes 1 s off a server's keep-alive hint and Orthanc announces `timeout=1`, so it
 * would drop every upstream socket after one request and each exchange through a throttled link would
 * pay a TCP handshake the app's own gateway does not (it keeps 500 ms of the hint, site-transport.ts).
 * This agent does the same as the gateway, so the proxy adds no latency of its own.
 */
class HintKeepingAgent extends http.Agent {
  override keepSocketAlive(socket: Socket): boolean {
    socket.setKeepAlive(true, 1000);
    socket.unref();
    socket.setTimeout(500);
    return true;
  }
}

function forwardHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function damage(kind: 'wrong-boundary' | 'truncated' | 'malformed-json' | 'html-page', body: Buffer, headers: Record<string, string | string[]>): Buffer {
  switch (kind) {
    case 'wrong-boundary': {
      const ct = String(headers['content-type'] ?? '');
      headers['content-type'] = /boundary=/i.test(ct)
        ? ct.replace(/boundary=("?)[^";]+\1/i, 'boundary=not-the-boundary-in-the-body')
        : `${ct}; boundary=not-the-boundary-in-the-body`;
      return body;
    }
    case 'truncated':
      return body.subarray(0, Math.floor(body.length / 2));
    case 'malformed-json':
      // Cut mid-value and left unclosed: what a proxy that gave up half-way would pass on.
      return Buffer.concat([body.subarray(0, Math.max(1, Math.floor(body.length / 3))), Buffer.from('{"0020000D": {"vr": ')]);
    case 'html-page':
      // What a login portal or a misconfigured proxy in front of the site answers, after the site stored the request.
      headers['content-type'] = 'text/html; charset=utf-8';
      return Buffer.from('<!doctype html><title>Portal</title><script>window.__pwned = 1</script><p>Welcome');
  }
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const agent = new HintKeepingAgent({ keepAlive: true, maxSockets: 32 });
  const rules: Array<FaultRule & { skip: number; times: number }> = [];
  const exchanges: ProxyExchange[] = [];
  const hanging = new Set<ServerResponse>();
  /** Answers held back by 'hold-response', sent on clearFaults(). */
  const held = new Set<() => void>();
  const server = http.createServer();

  const pickFault = (r: ProxyRequest): Fault | undefined => {
    for (const rule of rules) {
      if (rule.match && !rule.match(r)) continue;
      if (rule.skip > 0) {
        rule.skip--;
        return undefined;
      }
      rule.times--;
      if (rule.times <= 0) rules.splice(rules.indexOf(rule), 1);
      return rule.fault;
    }
    return undefined;
  };

  /** The 'cut-at' fault: forwards byte by byte and drops both sides at `offset` (request body, then response body). */
  const cutExchange = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    offset: number,
    record: (status: number, wire: number, encoding?: string) => void,
  ): void => {
    const headers = forwardHeaders(req.headers);
    // No keep-alive agent: the upstream socket is destroyed with the cut.
    const up = http.request({ host: target.hostname, port: target.port, path, method: req.method, headers });
    let sent = 0;
    let cut = false;
    const dropClient = (): void => {
      cut = true;
      req.socket.destroy();
    };
    up.on('error', () => {
      if (!cut) dropClient();
    });
    req.on('data', (c: Buffer) => {
      if (cut) return;
      const room = offset - sent;
      if (c.length <= room) {
        sent += c.length;
        up.write(c);
        return;
      }
      // Strictly less than the whole body reaches upstream, and never its end: it cannot store this request.
      if (room > 0) up.write(c.subarray(0, room));
      sent += room;
      record(0, 0);
      up.destroy();
      dropClient();
    });
    req.on('end', () => {
      if (!cut) up.end();
    });
    up.on('response', (upRes) => {
      const status = upRes.statusCode ?? 502;
      const encoding = upRes.headers['content-encoding'];
      let room = offset - sent;
      let wire = 0;
      if (room <= 0) {
        // Upstream has answered; the client never hears it.
        upRes.resume();
        record(status, 0, encoding);
        dropClient();
        return;
      }
      res.writeHead(status, forwardHeaders(upRes.headers));
      upRes.on('data', (c: Buffer) => {
        if (cut) return;
        if (c.length < room) {
          room -= c.length;
          wire += c.length;
          res.write(c);
          return;
        }
        wire += room;
        res.write(c.subarray(0, room), () => dropClient());
        cut = true;
        upRes.resume();
        record(status, wire, encoding);
      });
      upRes.on('end', () => {
        if (cut) return;
        // The answer was shorter than the offset: it passes whole.
        res.end();
        record(status, wire, encoding);
      });
    });
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const m = /\/series\/[^/]+\/instances\/([^/?]+)(\/rendered)?/.exec(path);
    const sop = m?.[1] ? decodeURIComponent(m[1]) : undefined;
    const request: ProxyRequest = {
      method: req.method ?? 'GET',
      path,
      accept: String(req.headers.accept ?? ''),
      ...(sop && !m?.[2] ? { sopInstanceUID: sop } : {}),
      ...(sop && m?.[2] ? { renderedSopInstanceUID: sop } : {}),
    };
    const fault = pickFault(request);
    const record = (status: number, wireBytes: number, encoding?: string): void => {
      exchanges.push({ ...request, status, wireBytes, ...(encoding ? { contentEncoding: encoding } : {}), ...(fault ? { fault: fault.kind } : {}) });
    };

    if (fault?.kind === 'status') {
      req.resume();
      const body = JSON.stringify({ HttpError: 'injected', HttpStatus: fault.status });
      res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      record(fault.status, 0);
      return;
    }
    if (fault?.kind === 'hang') {
      req.resume();
      hanging.add(res);
      res.once('close', () => hanging.delete(res));
      record(0, 0);
      return;
    }

    if (fault?.kind === 'cut-at') {
      cutExchange(req, res, request.path, fault.offset, (status, wire, encoding) => record(status, wire, encoding));
      return;
    }

    const headers = forwardHeaders(req.headers);
    // A body to damage must come uncompressed; everything else goes as the client asked, gzip included.
    if (fault?.kind === 'rewrite') delete headers['accept-encoding'];
    const up = http.request(
      { host: target.hostname, port: target.port, path, method: req.method, headers, agent },
      (upRes) => {
        const status = upRes.statusCode ?? 502;
        const outHeaders = forwardHeaders(upRes.headers);
        const encoding = upRes.headers['content-encoding'];
        let wire = 0;
        if (fault?.kind === 'hold-response') {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => {
            wire += c.length;
            chunks.push(c);
          });
          upRes.on('end', () => {
            record(status, wire, encoding);
            const release = (): void => {
              held.delete(release);
              if (res.destroyed) return;
              res.writeHead(status, outHeaders);
              res.end(Buffer.concat(chunks));
            };
            held.add(release);
            res.once('close', () => held.delete(release));
          });
          return;
        }
        if (fault?.kind === 'rewrite') {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => {
            wire += c.length;
            chunks.push(c);
          });
          upRes.on('end', () => {
            const body = damage(fault.body, Buffer.concat(chunks), outHeaders);
            outHeaders['content-length'] = String(body.length);
            res.writeHead(status, outHeaders);
            res.end(body);
            record(status, wire, encoding);
          });
          return;
        }
        res.writeHead(status, outHeaders);
        if (fault?.kind === 'cut') {
          upRes.on('data', (c: Buffer) => {
            if (res.destroyed) return;
            const room = fault.afterBytes - wire;
            if (c.length < room) {
              wire += c.length;
              res.write(c);
              return;
            }
            wire += Math.max(0, room);
            res.write(c.subarray(0, Math.max(0, room)), () => {
              // Drop the connection mid-body: no terminating chunk, no FIN-after-complete.
              res.socket?.destroy();
            });
            upRes.destroy();
            record(status, wire, encoding);
          });
          return;
        }
        upRes.on('data', (c: Buffer) => {
          wire += c.length;
        });
        upRes.on('end', () => record(status, wire, encoding));
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: upstream error ${err.message}`);
      } else res.destroy();
    });
    req.pipe(up);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    exchanges,
    addFault(rule) {
      rules.push({ ...rule, skip: rule.skip ?? 0, times: rule.times ?? 1 });
    },
    clearFaults() {
      rules.length = 0;
      for (const release of [...held]) release();
      for (const res of hanging) res.destroy();
      hanging.clear();
    },
    resetCounters() {
      exchanges.length = 0;
    },
    requestsFor: (sopInstanceUID) => exchanges.filter((e) => e.sopInstanceUID === sopInstanceUID).length,
    wireBytes: (filter = () => true) => exchanges.filter(filter).reduce((sum, e) => sum + e.wireBytes, 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
