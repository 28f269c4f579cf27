import type { JSX } from 'react';
import { formatDicomDate } from '../../shared/dicom/dicomweb-json';
import type { StudyUpsert } from '../cache/study-cache';
import { orientationMarkers } from './viewer-geometry';
import type { ViewportState } from './viewport-types';
import { formatWl } from './wl-presets';

function formatMm(v: number): string {
  return `${Math.round(v * 10) / 10} mm`;
}

/** The four orientation letters at the edges of a painted slice. */
function OrientationMarkers({ markers }: { markers: NonNullable<ReturnType<typeof orientationMarkers>> }): JSX.Element {
  return (
    <>
      <div className="overlay-orient overlay-orient-top" data-testid="orient-top">
        {markers.top}
      </div>
      <div className="overlay-orient overlay-orient-right" data-testid="orient-right">
        {markers.right}
      </div>
      <div className="overlay-orient overlay-orient-bottom" data-testid="orient-bottom">
        {markers.bottom}
      </div>
      <div className="overlay-orient overlay-orient-left" data-testid="orient-left">
        {markers.left}
      </div>
    </>
  );
}

/**
 * The text over a viewport: patient, study and series in the corners, image
 * number, position, zoom and window, and the orientation letters once a slice
 * is painted (`shown`: the slice index the overlay speaks of).
 */
export function ViewportOverlay({ study, s, shown, painted }: { study: StudyUpsert; s: ViewportState; shown: number; painted: boolean }): JSX.Element {
  const markers = painted ? orientationMarkers(s.orientation, s) : undefined;
  const series = [s.seriesNumber !== undefined ? `#${s.seriesNumber}` : '', s.seriesDescription].filter(Boolean).join(' ');
  return (
    <div className="overlay" aria-hidden="true">
      <div className="overlay-tl">
        <div>{study.patientName}</div>
        <div>{study.patientId}</div>
      </div>
      <div className="overlay-tr">
        <div className="overlay-detail">{[formatDicomDate(study.studyDate), study.description].filter(Boolean).join(' · ')}</div>
        <div data-testid="overlay-series">{series}</div>
      </div>
      <div className="overlay-bl">
        <div data-testid="overlay-image-number">{s.count > 0 ? `Im ${shown + 1}/${s.count}` : ''}</div>
        {s.sliceLocationMm !== undefined && s.displayedIndex >= 0 && <div data-testid="overlay-position">Loc {formatMm(s.sliceLocationMm)}</div>}
        {s.sliceThicknessMm !== undefined && s.displayedIndex >= 0 && <div className="overlay-detail">Thk {formatMm(s.sliceThicknessMm)}</div>}
      </div>
      <div className="overlay-br">
        <div data-testid="overlay-zoom">{s.scale !== undefined && painted ? `Zoom ${Math.round(s.scale * 100)}%` : ''}</div>
        <div data-testid="overlay-wl">{s.quality === 'preview' ? "W/L: the site's (preview)" : s.voi && painted ? formatWl(s.voi) : ''}</div>
      </div>
      {markers && <OrientationMarkers markers={markers} />}
    </div>
  );
}

/** What the viewport says about its slice: a preview is not for diagnosis, a slice not in yet, its own error. */
export function ViewportNotices({ s }: { s: ViewportState }): JSX.Element {
  return (
    <>
      {s.quality === 'preview' && (
        <div className="viewport-preview-flag" role="status" data-testid="preview-overlay">
          PREVIEW — not for diagnosis
          <span className="viewport-preview-why">the site's rendering while the lossless image is on its way; measuring is off</span>
        </div>
      )}
      {s.quality === 'missing' && s.count > 0 && (
        <div className="viewport-waiting" role="status" data-testid="viewport-waiting">
          Image {s.index + 1}/{s.count} has not arrived yet: it is being fetched first
        </div>
      )}
      {s.error && (
        <div className="viewport-error" role="alert" data-testid="viewport-error">
          {s.error}
        </div>
      )}
    </>
  );
}
