import { z } from 'zod';
import {
  certificationClauseSchema,
  certificationSchema,
  nameSchema,
  regressionsSchema,
  verdictChangeSchema,
} from './api';
import { tenantSchema } from './auth';
import { verdictSchema } from './verdict';

/**
 * Release-team triage: known issues (waivers), retry before a regression is called, notifications,
 * retention and the janitor. The views of history, regressions and certification gain what triage
 * adds to them here, so the plain schemas stay what they were.
 */

/** `*` any run of characters, `?` one; everything else literal, case-sensitive, whole string. */
export const globSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'printable characters, no spaces (* and ? are wildcards)');

const idSchema = z.string().min(1).max(64);
const httpUrlSchema = z
  .string()
  .max(2000)
  .regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL');
/** An instant with its offset, e.g. 2026-03-01T00:00:00Z. */
const instantSchema = z.iso.datetime({ offset: true });

/** What a known issue explains: FAILs of these clauses (or payload rules), where these patterns hold. */
export const knownIssueMatchSchema = z
  .object({
    /** Clause IDs or payload rule IDs, as globs: `IMG-GPT`, `VBSA:V_L1GI_01`, `VBSA:V_L1PE_*`. */
    clauses: z.array(globSchema.max(100)).min(1).max(50),
    target: globSchema.optional(),
    imageName: globSchema.optional(),
    imageVersion: globSchema.optional(),
    /** Matches when any of the image's tags does. */
    imageTag: globSchema.optional(),
    /** A regular expression (RE2 syntax: linear time) the verdict's message must contain a match of. */
    message: z.string().min(1).max(500).optional(),
  })
  .strict();
export type KnownIssueMatch = z.infer<typeof knownIssueMatchSchema>;

/**
 * Prose read in a terminal and on the dashboard: lines and tabs, but no other control character
 * (escape sequences, NUL) and no bidirectional override.
 */
const proseSchema = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(
      /^(?:[\t\n]|[^\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069])*$/u,
      'must not contain control characters other than line breaks and tabs',
    );

const knownIssueFields = {
  title: nameSchema(200),
  /** Who looks after it (a person or team; not the tenant). */
  owner: nameSchema(200),
  /** The bug report, waiver or mailing-list thread. */
  link: httpUrlSchema,
  reason: proseSchema(4000),
  /** After this instant the issue stops matching and is listed as expired. */
  expiresAt: instantSchema,
  match: knownIssueMatchSchema,
  /** In-scope runs in a row without a match before the issue is shown as possibly fixed. */
  fixedAfter: z.number().int().min(1).max(1000),
};

export const knownIssueCreateSchema = z
  .object({
    ...knownIssueFields,
    link: knownIssueFields.link.optional(),
    expiresAt: knownIssueFields.expiresAt.optional(),
    fixedAfter: knownIssueFields.fixedAfter.default(5),
  })
  .strict();
export type KnownIssueCreate = z.infer<typeof knownIssueCreateSchema>;

export const knownIssuePatchSchema = z
  .object({
    ...knownIssueFields,
    link: knownIssueFields.link.nullable(),
    expiresAt: knownIssueFields.expiresAt.nullable(),
  })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give at least one field to change');
export type KnownIssuePatch = z.infer<typeof knownIssuePatchSchema>;

/**
 * An expiry as people write it: an instant with its offset (2026-03-01T00:00:00Z) or a time from
 * now (7d, 12h, 30m, 90s). Throws on anything else.
 */
export function expiryFrom(when: string, now = new Date()): string {
  const m = /^(\d+)([dhms])$/.exec(when.trim());
  if (m) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'd' | 'h' | 'm' | 's'];
    return new Date(now.getTime() + Number(m[1]) * unit).toISOString();
  }
  if (Number.isNaN(Date.parse(when)) || !/T.*(Z|[+-]\d\d:\d\d)$/.test(when))
    throw new Error(`'${when}' is neither an instant with its offset nor 7d, 12h, 30m, 90s`);
  return new Date(when).toISOString();
}

export const KNOWN_ISSUE_STATES = ['active', 'expired', 'closed'] as const;
export type KnownIssueState = (typeof KNOWN_ISSUE_STATES)[number];

export const knownIssueViewSchema = z.object({
  id: z.string(),
  title: z.string(),
  owner: z.string(),
  link: z.string().nullable(),
  reason: z.string(),
  expiresAt: z.string().nullable(),
  match: knownIssueMatchSchema,
  fixedAfter: z.number().int(),
  /** The tenant it belongs to (it explains only that tenant's matrices); null: public, every matrix. */
  tenant: z.string().nullable(),
  state: z.enum(KNOWN_ISSUE_STATES),
  /** Active, yet the last `fixedAfter` runs it could have explained had no FAIL it matches. */
  possiblyFixed: z.boolean(),
  /** The newest run with a FAIL it matches. */
  lastMatchAt: z.string().nullable(),
  lastMatchRunId: z.string().nullable(),
  /** Runs in its scope since that one (counted up to fixedAfter). */
  runsSinceMatch: z.number().int(),
  /** Raised on every change: KCIDB's issue version. */
  version: z.number().int(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  closedAt: z.string().nullable(),
});
export type KnownIssueView = z.infer<typeof knownIssueViewSchema>;

/** A known issue as a verdict names it. */
export const knownRefSchema = z.object({ id: z.string(), title: z.string() });
export type KnownRef = z.infer<typeof knownRefSchema>;

/** One FAIL a known issue explains. */
export const knownFailureSchema = z.object({ clause: z.string(), issues: z.array(knownRefSchema).min(1) });
export type KnownFailure = z.infer<typeof knownFailureSchema>;

/** Triage of one run of a matrix: what known issues explain, and whether it was retried. */
export const cellTriageSchema = z.object({
  runId: z.string(),
  /** The run this one re-runs (retry before regression); null for a run of the original plan. */
  retryOf: z.string().nullable(),
  /** The retry that replaced this run's verdict, if any. */
  supersededBy: z.string().nullable(),
  /** A retry that passed where the run it re-ran failed or errored. */
  flaky: z.boolean(),
  known: z.array(knownFailureSchema),
  /** FAIL clauses no known issue explains. */
  unexplained: z.array(z.string()),
});
export type CellTriage = z.infer<typeof cellTriageSchema>;

export const SETTLEMENT_STATES = ['retrying', 'settled'] as const;

/** `GET /api/matrices/:id/triage`. */
export const matrixTriageSchema = z.object({
  matrixId: z.string(),
  /** How the matrix was settled once done: retries asked for, then regressions reported. */
  settlement: z
    .object({
      state: z.enum(SETTLEMENT_STATES),
      round: z.number().int(),
      retried: z.number().int(),
      at: z.string(),
    })
    .nullable(),
  cells: z.array(cellTriageSchema),
});
export type MatrixTriage = z.infer<typeof matrixTriageSchema>;

export const knownChangeSchema = verdictChangeSchema.extend({ issues: z.array(knownRefSchema).min(1) });
export type KnownChange = z.infer<typeof knownChangeSchema>;

/** A cell that failed or errored, was re-run, and passed. */
export const flakyCellSchema = z.object({
  imageName: z.string(),
  targetId: z.string(),
  suite: z.string(),
  /** The verdict of the run that was retried, and that run. */
  before: verdictSchema,
  retriedRunId: z.string(),
  /** The retry that passed. */
  runId: z.string(),
});
export type FlakyCell = z.infer<typeof flakyCellSchema>;

/**
 * Regressions with triage: `regressions` holds only PASS → FAIL that no known issue explains;
 * `known` those one does; `errors` PASS → ERROR (never a regression of the subject); `flaky` cells
 * whose retry passed.
 */
export const triagedRegressionsSchema = regressionsSchema.extend({
  known: z.array(knownChangeSchema),
  errors: z.array(verdictChangeSchema),
  flaky: z.array(flakyCellSchema),
});
export type TriagedRegressions = z.infer<typeof triagedRegressionsSchema>;

export const triagedCertificationClauseSchema = certificationClauseSchema.extend({
  /** The known issues (waivers) that explain this clause's FAIL. */
  waivedBy: z.array(knownRefSchema),
});
export type TriagedCertificationClause = z.infer<typeof triagedCertificationClauseSchema>;

/** A certificate with waivers: a waived clause stays FAIL, so it is never "all PASS" while one is in force. */
export const triagedCertificationSchema = certificationSchema.extend({
  clauses: z.array(triagedCertificationClauseSchema),
  /** Known issues in force on this certificate's clauses. */
  waivers: z.array(knownRefSchema),
  /** Every clause judged PASS (or SKIP) and no waiver in force. */
  allPass: z.boolean(),
});
export type TriagedCertification = z.infer<typeof triagedCertificationSchema>;

/* Policies: retries before a regression, and retention. */

export const policyScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('farm') }).strict(),
  z.object({ kind: z.literal('tenant'), tenant: tenantSchema }).strict(),
  z.object({ kind: z.literal('schedule'), scheduleId: idSchema }).strict(),
]);
export type PolicyScope = z.infer<typeof policyScopeSchema>;

const policyFields = {
  /** How many times a cell going PASS → FAIL/ERROR is re-run before a regression is reported. */
  retries: z.number().int().min(0).max(5),
  /** Keep artifacts and image bytes this many days. */
  keepDays: z.number().int().min(1).max(36500),
  /** Keep the artifacts of the newest N matrices (of a schedule, or of a tenant's own submissions). */
  keepMatrices: z.number().int().min(1).max(100000),
};

/** `PUT /api/policies/...`: each field set, or null to inherit from the wider scope. */
export const policySetSchema = z
  .object({
    retries: policyFields.retries.nullable(),
    keepDays: policyFields.keepDays.nullable(),
    keepMatrices: policyFields.keepMatrices.nullable(),
  })
  .partial()
  .strict();
export type PolicySet = z.infer<typeof policySetSchema>;

export const policyViewSchema = z.object({
  scope: policyScopeSchema,
  retries: z.number().int().nullable(),
  keepDays: z.number().int().nullable(),
  keepMatrices: z.number().int().nullable(),
  updatedAt: z.string(),
});
export type PolicyView = z.infer<typeof policyViewSchema>;

/** Retries when no policy says: one re-run. */
export const DEFAULT_RETRIES = 1;

/* Notifications. */

export const HOOK_EVENTS = ['matrix.done', 'regression', 'fix', 'issue.expired'] as const;
export const hookEventSchema = z.enum(HOOK_EVENTS);
export type HookEvent = z.infer<typeof hookEventSchema>;

/** Whose events a hook gets: one schedule's, one tenant's, or (admins) the whole farm's. */
export const hookScopeSchema = policyScopeSchema;
export type HookScope = PolicyScope;

export const hookCreateSchema = z
  .object({
    scope: hookScopeSchema,
    events: z
      .array(hookEventSchema)
      .min(1)
      .max(HOOK_EVENTS.length)
      .default([...HOOK_EVENTS]),
    /** POSTs the JSON body, signed with HMAC-SHA256 of `secret` (made for you when not given). */
    webhook: z
      .object({ url: httpUrlSchema, secret: z.string().min(16).max(200).optional() })
      .strict()
      .optional(),
    /** Mails the event through the farm's SMTP server (VMFARM_SMTP_URL). */
    email: z
      .object({ to: z.array(z.email().max(320)).min(1).max(20) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((h) => (h.webhook === undefined) !== (h.email === undefined), {
    message: 'give either webhook or email',
    path: ['webhook'],
  });
export type HookCreate = z.infer<typeof hookCreateSchema>;

export const hookViewSchema = z.object({
  id: z.string(),
  scope: hookScopeSchema,
  events: z.array(hookEventSchema),
  kind: z.enum(['webhook', 'email']),
  url: z.string().nullable(),
  to: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  /** The tenant whose hook it is; null: an admin's. */
  tenant: z.string().nullable(),
  createdAt: z.string(),
});
export type HookView = z.infer<typeof hookViewSchema>;

/** The answer to creating a webhook: the only time its secret is shown. */
export const hookCreatedSchema = hookViewSchema.extend({ secret: z.string().nullable() });
export type HookCreated = z.infer<typeof hookCreatedSchema>;

export const DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const;

export const deliveryAttemptSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  /** HTTP status, or 250 for a mail the SMTP server accepted; null when no answer came. */
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number(),
});

export const deliveryViewSchema = z.object({
  id: z.string(),
  hookId: z.string(),
  eventId: z.string(),
  event: hookEventSchema,
  state: z.enum(DELIVERY_STATES),
  attempts: z.number().int(),
  nextAt: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
  log: z.array(deliveryAttemptSchema),
});
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

/**
 * The JSON body of every notification. Webhooks carry `X-Vmfarm-Signature: sha256=<hex>`, the
 * HMAC-SHA256 of the exact body bytes under the hook's secret, plus `X-Vmfarm-Event` and
 * `X-Vmfarm-Delivery`.
 */
export const notificationSchema = z.object({
  /** One event's id: the same in every hook's delivery of it, and in every retry. */
  id: z.string(),
  event: hookEventSchema,
  at: z.string(),
  /** The tenant the event concerns; null: public. */
  tenant: z.string().nullable(),
  scheduleId: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});
export type Notification = z.infer<typeof notificationSchema>;

/* Retention: the janitor and disk usage. */

export const deletionSchema = z.object({
  id: z.string(),
  at: z.string(),
  kind: z.enum(['artifact', 'image']),
  runId: z.string().nullable(),
  attempt: z.number().int().nullable(),
  name: z.string().nullable(),
  sha256: z.string().nullable(),
  bytes: z.number().int(),
  /** Which rule let it go, e.g. "schedule nightly: keepMatrices 3". */
  reason: z.string(),
});
export type Deletion = z.infer<typeof deletionSchema>;

export const janitorReportSchema = z.object({
  dryRun: z.boolean(),
  at: z.string(),
  deleted: z.object({ artifacts: z.number().int(), images: z.number().int(), bytes: z.number().int() }),
  /** Artifacts past their policy that were kept, by why. */
  kept: z.object({ knownIssue: z.number().int(), certification: z.number().int() }),
  deletions: z.array(deletionSchema.omit({ id: true }).extend({ id: z.string().nullable() })),
});
export type JanitorReport = z.infer<typeof janitorReportSchema>;

export const diskUsageSchema = z.object({
  images: z.object({ count: z.number().int(), bytes: z.number().int(), removed: z.number().int() }),
  artifacts: z.object({ count: z.number().int(), bytes: z.number().int() }),
  /** Artifact bytes per schedule (null: matrices submitted by hand). */
  bySchedule: z.array(
    z.object({ scheduleId: z.string().nullable(), matrices: z.number().int(), bytes: z.number().int() }),
  ),
  filesystem: z.object({ path: z.string(), total: z.number(), free: z.number() }).nullable(),
});
export type DiskUsage = z.infer<typeof diskUsageSchema>;
