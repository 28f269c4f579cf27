import type { Logger } from '../../../shared/log';
import type { TeleradDB } from '../../cache/telerad-db';
import type { CaseThread } from '../../case-thread/thread-wiring';
import { createCaseThread } from '../../case-thread/thread-wiring';
import type { Outbox } from '../../outbox/outbox-scheduler';
import { createPdfAttachmentLoader } from '../../referral/referral-reader';
import type { CacheWiring } from './cache';
import type { Page } from './page';

/** The conversation around a case (issue 7): notes from the site and written here, actions through the outbox. */
export function wireCaseThread(deps: { db: TeleradDB; page: Page; log: Logger; cache: CacheWiring; outbox: Outbox }): CaseThread {
  const { db, page, log, outbox } = deps;
  const { cache, dicomweb } = deps.cache;
  return createCaseThread({
    db,
    cache,
    dicomweb,
    loadPdf: createPdfAttachmentLoader({ cache, dicomweb, log: log.child('thread') }),
    enqueueOutboxJob: outbox.enqueue,
    randomUUID: page.randomUUID,
    now: page.now,
    log: log.child('thread'),
  });
}
