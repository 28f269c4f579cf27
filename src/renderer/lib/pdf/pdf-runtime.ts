import type * as PdfJs from 'pdfjs-dist';
import type { PDFDocumentProxy } from 'pdfjs-dist';
import type { Logger } from '../../../shared/log';

/** Opens PDFs with pdfjs-dist; built once in main.tsx, handed to the PDF viewer. */
export interface PdfRuntime {
  open(data: Uint8Array): Promise<PDFDocumentProxy>;
}

/**
 * pdfjs-dist (≈1 MB) is loaded on the first PDF, not with the app: most
 * studies have none. Under the app's CSP:
 *  - the worker is the bundled `pdf.worker.min.mjs`, a same-origin module
 *    worker (`worker-src 'self'`), its URL given by Vite's `?url` import;
 *  - `isEvalSupported: false`: pdfjs would otherwise compile PostScript
 *    functions with `new Function`, which `script-src` (no 'unsafe-eval')
 *    refuses;
 *  - no cMap/standard-font/wasm URLs: the attachments are plain text PDFs;
 *    the 14 standard fonts fall back to system fonts.
 */
export function createPdfRuntime(workerSrc: string, log: Logger): PdfRuntime {
  let loading: Promise<typeof PdfJs> | undefined;
  const load = (): Promise<typeof PdfJs> => {
    loading ??= import('pdfjs-dist').then((pdfjs) => {
      pdfjs.GlobalWorkerOptions.workerSrc = workerSrc;
      log.info(`pdf.js ${pdfjs.version} loaded`);
      return pdfjs;
    });
    // A failed chunk load is not remembered: the next PDF tries again.
    loading.catch(() => (loading = undefined));
    return loading;
  };
  return {
    async open(data) {
      const pdfjs = await load();
      // pdfjs transfers the buffer to its worker (detaching it): give it a copy, the caller keeps its bytes.
      return pdfjs.getDocument({ data: data.slice(), isEvalSupported: false, enableXfa: false }).promise;
    },
  };
}
