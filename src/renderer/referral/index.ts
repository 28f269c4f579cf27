// referral's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export type { AttachmentLoader } from './referral-reader';
