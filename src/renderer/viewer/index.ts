// viewer's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export type { OpenRequest, ViewerStore } from './viewer-store';
