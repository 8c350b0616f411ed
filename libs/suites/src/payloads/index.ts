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
