// case-send's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export { prepareCaseForSending } from './prepare-send';
export { estimateCompressed, estimateSend } from './send-estimate';
export type { TranscodeDeps } from './transcode';
