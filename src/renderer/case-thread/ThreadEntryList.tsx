import type { JSX } from 'react';
import type { ThreadEntryKind } from './thread-model';
import type { ThreadAttachment, ThreadItem } from './thread-store';
import { ThreadAttachmentButtons } from './ThreadAttachments';

const KIND_LABEL: Record<ThreadEntryKind, string> = { referral: 'Referral', consult: 'Consult', answer: 'Answer', report: 'Report', outcome: 'Outcome' };

/** Each kind's badge; a consult's depends on whether it asks for more (see entryBadge). */
const BADGE: Record<ThreadEntryKind, string> = { referral: 'referral', consult: 'final opinion', answer: 'answered', report: 'final report', outcome: 'outcome' };

/** The badge of an entry: what it did to the case. */
export function entryBadge(e: Pick<ThreadItem, 'kind' | 'status'>): string {
  return e.kind === 'consult' && e.status === 'more-info-needed' ? 'more information requested' : BADGE[e.kind];
}

const DELIVERY_LABEL = { queued: 'waiting to send', sending: 'sending…', failed: 'not sent yet', sent: 'sent' } as const;

function when(at: number | undefined): string {
  return at === undefined ? '' : new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function ThreadEntryRow(props: { entry: ThreadItem; onOpenAttachment: (a: ThreadAttachment) => void }): JSX.Element {
  const e = props.entry;
  return (
    <li className="thread-entry" data-testid="thread-entry" data-kind={e.kind} data-side={e.side} data-sop-instance-uid={e.id}>
      <div className="thread-entry-head">
        <span className="thread-entry-side">{e.side === 'referrer' ? 'Referrer' : 'Specialist'}</span>
        <span className="thread-entry-kind">{KIND_LABEL[e.kind]}</span>
        <span className={`thread-badge kind-${e.kind}`} data-testid="thread-badge">
          {entryBadge(e)}
        </span>
      </div>
      <div className="thread-entry-meta">
        {e.author && <span data-testid="thread-author">{e.author}</span>} <time>{when(e.at)}</time>
        {e.delivery && e.delivery !== 'sent' && (
          <span className="thread-delivery" data-testid="thread-delivery" data-state={e.delivery}>
            {DELIVERY_LABEL[e.delivery]}
          </span>
        )}
      </div>
      {e.summary && (
        <p className="thread-entry-text" data-testid="thread-text">
          {e.summary}
        </p>
      )}
      {e.attachments.length > 0 && <ThreadAttachmentButtons attachments={e.attachments} onOpen={props.onOpenAttachment} />}
    </li>
  );
}

/** The thread's entries in time order, both sides in one list. */
export function ThreadEntryList(props: { entries: readonly ThreadItem[]; onOpenAttachment: (a: ThreadAttachment) => void }): JSX.Element {
  return (
    <ol className="case-thread-entries">
      {props.entries.map((e) => (
        <ThreadEntryRow key={e.id} entry={e} onOpenAttachment={props.onOpenAttachment} />
      ))}
    </ol>
  );
}
