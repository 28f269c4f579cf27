// quality's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export { badgeText } from './quality-badges';
export type { QualityBadges } from './quality-badges';
export type { QualityContext, QualityResult, QualityService } from './study-quality';
