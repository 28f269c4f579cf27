import { useEffect, useRef, useState } from 'react';
import type { JSX } from 'react';
import type { SeriesOption } from './study-session-types';
import { SERIES_DRAG_TYPE } from './use-viewport-mouse';
import type { ViewerStore } from './viewer-types';

/** A series in the thumbnail strip: its middle image, number, modality, description and image count. */
function SeriesThumb({ store, series, shownIn }: { store: ViewerStore; series: SeriesOption; shownIn: number[] }): JSX.Element {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [failed, setFailed] = useState<string | undefined>(undefined);
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    let live = true;
    store.renderThumbnail(series.seriesInstanceUID, canvas).catch((err: unknown) => {
      if (live) setFailed(err instanceof Error ? err.message : 'cannot be decoded');
    });
    return () => {
      live = false;
    };
  }, [store, series.seriesInstanceUID]);
  const title = [series.seriesNumber !== undefined ? `#${series.seriesNumber}` : '', series.modality].filter(Boolean).join(' ');
  const where = shownIn.length > 0 ? `, shown in viewport ${shownIn.map((i) => i + 1).join(' and ')}` : '';
  return (
    <li>
      <button
        type="button"
        className={`series-thumb${shownIn.length > 0 ? ' is-shown' : ''}`}
        data-testid="series-thumb"
        data-series-uid={series.seriesInstanceUID}
        draggable
        aria-label={`Series ${title} ${series.description}, ${series.count} images${where}: show in the active viewport`}
        title={failed ? `Thumbnail unavailable: ${failed}` : 'Click, or drag into a viewport'}
        onDragStart={(e) => {
          e.dataTransfer.setData(SERIES_DRAG_TYPE, series.seriesInstanceUID);
          e.dataTransfer.setData('text/plain', series.label);
          e.dataTransfer.effectAllowed = 'copy';
        }}
        onClick={() => store.selectSeries(series.seriesInstanceUID)}
      >
        <canvas ref={canvasRef} width={96} height={96} className="series-thumb-image" aria-hidden="true" />
        <span className="series-thumb-title">
          {title} <span className="series-thumb-count">{series.count}</span>
        </span>
        <span className="series-thumb-desc">{series.description}</span>
        {failed && (
          <span className="series-thumb-failed" data-testid="series-thumb-failed">
            cannot be shown
          </span>
        )}
      </button>
    </li>
  );
}

/** The study's series as thumbnails, each marked with the visible viewports that show it. */
export function SeriesStrip({ store, series, shownSeries, count }: { store: ViewerStore; series: SeriesOption[]; shownSeries: string[]; count: number }): JSX.Element {
  return (
    <nav className="series-strip" aria-label="Series">
      <ul>
        {series.map((s) => (
          <SeriesThumb
            key={s.seriesInstanceUID}
            store={store}
            series={s}
            shownIn={shownSeries.flatMap((uid, i) => (uid === s.seriesInstanceUID && i < count ? [i] : []))}
          />
        ))}
      </ul>
    </nav>
  );
}
