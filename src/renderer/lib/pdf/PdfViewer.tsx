import { useEffect, useRef, useState } from 'react';
import type { JSX } from 'react';
import type { PDFDocumentProxy, RenderTask } from 'pdfjs-dist';
import type { PdfRuntime } from './pdf-runtime';
import { errorMessage } from '../../../shared/error-message';

export interface PdfViewerProps {
  runtime: PdfRuntime;
  data: Uint8Array;
  title: string;
  onClose: () => void;
}

/**
 * One PDF, one page at a time, painted on a canvas by pdf.js (no text or
 * annotation layer: these are letters and lab results to read, not forms).
 * `data-state` is 'painted' once the current page is on the canvas, and
 * `data-page-count` gives the number of pages, for tests and assistive tools.
 */
export function PdfViewer({ runtime, data, title, onClose }: PdfViewerProps): JSX.Element {
  const [doc, setDoc] = useState<PDFDocumentProxy | undefined>(undefined);
  const [pageNo, setPageNo] = useState(1);
  const [painted, setPainted] = useState(0);
  const [error, setError] = useState<string | undefined>(undefined);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const bodyRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let live = true;
    let opened: PDFDocumentProxy | undefined;
    setDoc(undefined);
    setPageNo(1);
    setPainted(0);
    setError(undefined);
    runtime
      .open(data)
      .then((d) => {
        opened = d;
        if (live) setDoc(d);
        else void d.destroy();
      })
      .catch((err: unknown) => live && setError(`The PDF could not be opened: ${errorMessage(err)}`));
    return () => {
      live = false;
      void opened?.destroy();
    };
  }, [runtime, data]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!doc || !canvas) return undefined;
    let task: RenderTask | undefined;
    let live = true;
    setPainted(0);
    doc
      .getPage(pageNo)
      .then((page) => {
        if (!live) return undefined;
        // Fit the page to the pane's width, sharp on high-DPI screens.
        const width = Math.max(200, (bodyRef.current?.clientWidth ?? 800) - 32);
        const base = page.getViewport({ scale: 1 });
        const scale = Math.min(3, Math.max(0.5, width / base.width));
        const dpr = window.devicePixelRatio || 1;
        const viewport = page.getViewport({ scale: scale * dpr });
        canvas.width = Math.floor(viewport.width);
        canvas.height = Math.floor(viewport.height);
        canvas.style.width = `${Math.floor(viewport.width / dpr)}px`;
        canvas.style.height = `${Math.floor(viewport.height / dpr)}px`;
        task = page.render({ canvas, viewport });
        return task.promise;
      })
      .then(() => live && setPainted(pageNo))
      .catch((err: unknown) => {
        if (!live || (err instanceof Error && err.name === 'RenderingCancelledException')) return;
        setError(`Page ${pageNo} could not be drawn: ${errorMessage(err)}`);
      });
    return () => {
      live = false;
      task?.cancel();
    };
  }, [doc, pageNo]);

  const count = doc?.numPages ?? 0;
  const state = error ? 'error' : painted === pageNo && doc ? 'painted' : 'loading';
  return (
    <section className="pdf-viewer" data-testid="pdf-viewer" data-state={state} data-page-count={count ? String(count) : ''} aria-label={`PDF: ${title}`}>
      <div className="pdf-toolbar">
        <button type="button" className="btn btn-small" onClick={onClose} data-testid="pdf-close">
          Close
        </button>
        <span className="pdf-title">{title}</span>
        {count > 1 && (
          <span className="pdf-pages">
            <button type="button" className="btn btn-small" disabled={pageNo <= 1} onClick={() => setPageNo((p) => Math.max(1, p - 1))}>
              ‹
            </button>
            <span data-testid="pdf-page">
              {pageNo} / {count}
            </span>
            <button type="button" className="btn btn-small" disabled={pageNo >= count} onClick={() => setPageNo((p) => Math.min(count, p + 1))}>
              ›
            </button>
          </span>
        )}
        {count === 1 && <span className="pdf-pages">1 page</span>}
      </div>
      <div className="pdf-body" ref={bodyRef}>
        {error ? (
          <div className="pdf-error" role="alert">
            {error}
          </div>
        ) : (
          <canvas ref={canvasRef} className="pdf-page" />
        )}
      </div>
    </section>
  );
}
