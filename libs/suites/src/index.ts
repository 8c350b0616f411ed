export * from './suite';
export * from './registry';
export { staticSuite, REMOVABLE_PATHS } from './static';
export { bootSuite, judgeBoot, BOOT_SUITE_ID, BOOT_CLAUSES, type BootObservation } from './live/boot';
export {
  type BootEnd,
  type StageTimes,
  type Instance,
  startInstance,
  waitReady,
  awaitReady,
  isReady,
  notReady,
} from './live/readiness';
export { type GuestReport, parseReport, answerWords, command, FARM_READY } from './live/guest';
export {
  Stages,
  StageTimeoutError,
  runLive,
  limitMs,
  verdictMaker,
  DEFAULT_STAGE_LIMITS_S,
  DEFAULT_ATTEMPT_LIMIT_S,
  STAGE_GRACE_MS,
  type StageTiming,
} from './live/stages';
export { imageChecks, type ImageChecks } from './live/blame';
export {
  scanTranscript,
  TranscriptScanner,
  consoleLines,
  readyPatterns,
  userPattern,
  endPattern,
  DEFAULT_READY_PATTERNS,
  FATAL,
  type LinePattern,
} from './live/transcript';
export { consoleSuite, judgeConsoles, CONSOLE_SUITE_ID } from './live/console';
export { gicSuite, judgeGic, refuseGic, GIC_SUITE_ID, GICV2_MAX_VCPUS } from './live/gic';
export {
  descriptionSuite,
  judgeDescription,
  enumerationMismatches,
  DESCRIPTION_SUITE_ID,
} from './live/description';
export { timerSuite, judgeTimer, TIMER_SUITE_ID } from './live/timer';
export { hotplugSuite, judgeHotplug, HOTPLUG_SUITE_ID, type PlugTrial } from './live/hotplug';
export {
  nvramSuite,
  judgeNvram,
  readStore,
  NVRAM_SUITE_ID,
  PROBE_GUID,
  PROBE_NAME,
  RESTARTS,
  type NvramObservation,
} from './live/nvram';
export * from './payloads';
