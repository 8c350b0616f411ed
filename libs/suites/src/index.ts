export * from './suite';
export * from './registry';
export { staticSuite, REMOVABLE_PATHS } from './static';
export {
  bootSuite,
  judgeBoot,
  readyPatterns,
  BOOT_SUITE_ID,
  BOOT_CLAUSES,
  type BootObservation,
  type BootEnd,
  type StageTimes,
} from './live/boot';
export { scanTranscript, consoleLines, DEFAULT_READY_PATTERNS } from './live/transcript';
