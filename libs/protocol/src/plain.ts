/**
 * `@vmfarm/protocol/plain`: the parts of the protocol that need no schema library (zod), for
 * commands whose start-up matters: `vmfarm check` renders and scores a report with these alone.
 * Types come from the schemas, but as types only: nothing here loads zod at run time.
 */
export { ARCHES } from './arches';
export * from './clauses';
export * from './verdicts';
export * from './render';
export * from './summary';
export type { Arch, ImageFormat, Verdict, VerdictRecord } from './verdict';
export type { ImageReport, Summary } from './report';
