/**
 * The browser globals the services are built over. main.tsx fills this in and is the only
 * place that names window, document, navigator, fetch or crypto; the wire functions reach
 * the page only through it, so the composition stays readable (and testable) as plain code.
 */
export interface Page {
  window: Window & typeof globalThis;
  document: Document;
  navigator: Navigator;
  /** window.fetch bound to window: the site gateway (DICOMweb, STOW) and main's services. */
  fetch: typeof fetch;
  now: () => number;
  random: () => number;
  randomUUID: () => string;
  /** A worker on one of the page's own assets (the JPEG-LS encoder). */
  startWorker: (url: URL) => Worker;
}
