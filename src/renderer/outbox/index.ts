// outbox's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export { OUTBOX_TABLE } from './outbox-enqueue';
export type { EnqueueOutboxJob } from './outbox-enqueue';
export { findOutboxJob, findOutboxJobs, outboxJobDeliveries, studyHasUnsentOutboxJob, studyOutboxJobs } from './outbox-jobs';
export type { FailedAttempt, RefusedOutboxJob } from './outbox-scheduler';
export type { DeliveredJob } from './outbox-store';
