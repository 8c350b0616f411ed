export {
  parseAcsLog,
  logLines,
  ACS_RESULTS,
  SUMMARY_FIELDS,
  type AcsLog,
  type AcsRule,
  type AcsSummary,
} from './acs-log';
export { acsVerdicts, mapAcsResult, countAcs, type PayloadRunInfo } from './acs-verdicts';
export {
  payloadDisk,
  payloadDiskFiles,
  startupScript,
  PAYLOAD_START,
  PAYLOAD_END,
  SHELL_PATH,
} from './payload-disk';
export { payloadSuite, refusePayload, type PayloadRef } from './payload-suite';
