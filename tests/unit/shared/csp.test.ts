import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, DECODE_WORKER_CONTENT_SECURITY_POLICY, DECODE_WORKER_FILE, contentSecurityPolicyFor } from '../../../src/shared/csp';

describe('content security policy', () => {
  it('forbids eval, blob: workers and other origins in the page', () => {
    expect(CONTENT_SECURITY_POLICY).not.toContain("'unsafe-eval'");
    expect(CONTENT_SECURITY_POLICY).toContain("worker-src 'self';");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/worker-src[^;]*blob:/);
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self';");
    expect(contentSecurityPolicyFor('/index.html')).toBe(CONTENT_SECURITY_POLICY);
    expect(contentSecurityPolicyFor('/assets/index-abc.js')).toBe(CONTENT_SECURITY_POLICY);
  });

  it('gives eval to the decode worker file only, and no network beyond the app', () => {
    expect(contentSecurityPolicyFor(`/assets/${DECODE_WORKER_FILE}`)).toBe(DECODE_WORKER_CONTENT_SECURITY_POLICY);
    expect(DECODE_WORKER_CONTENT_SECURITY_POLICY).toContain("'unsafe-eval'");
    expect(DECODE_WORKER_CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(contentSecurityPolicyFor(`/assets/${DECODE_WORKER_FILE}.map`)).toBe(CONTENT_SECURITY_POLICY);
  });
});
