import { CONTENT_SECURITY_POLICY, GATEWAY_ANSWER_CONTENT_SECURITY_POLICY } from '../../shared/csp';

/**
 * Headers both hosts put on every response. CORP same-origin matters for the
 * browser host in particular: pages on other 127.0.0.1 ports are same-site,
 * so this (not SameSite cookies) is what stops them embedding our responses.
 *
 * The policy is the sandbox of a gateway answer, enforced together with the
 * app's own (a comma joins two policies and the browser enforces both,
 * CSP3 §3.1). Both hosts set these over every gateway answer, which must stay
 * inert whatever a site sent (issue 18), and over API answers and errors,
 * none of which is a page either; the app's policy stays alongside because
 * every response of the app is to carry it (Electron checklist 7). The app's
 * own files are served with contentSecurityPolicyFor, which replaces this.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': `${GATEWAY_ANSWER_CONTENT_SECURITY_POLICY}, ${CONTENT_SECURITY_POLICY}`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};
