import { CONTENT_SECURITY_POLICY } from '../../shared/csp';

/**
 * Headers both hosts put on every response. CORP same-origin matters for the
 * browser host in particular: pages on other 127.0.0.1 ports are same-site,
 * so this (not SameSite cookies) is what stops them embedding our responses.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};
