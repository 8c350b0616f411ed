import type { Generated } from 'kysely';

/** Row types of the one schema both SQLite and PostgreSQL use. Times are ISO-8601 text; JSON is text. */
export interface ImagesTable {
  sha256: string;
  /** bigint: PostgreSQL hands it back as a string, repositories convert. */
  size: number | string;
  format: string;
  arch: string | null;
  /** 0 or 1, as `schedules.enabled` (better-sqlite3 binds no booleans). */
  arch_declared: number;
  name: string;
  version: string | null;
  uploaded_as: string;
  created_at: string;
  /** Tenant, or null: public (made by an admin). */
  owner: string | null;
}

export interface TargetsTable {
  id: string;
  kind: string;
  profile: string;
  created_at: string;
  owner: string | null;
}

export interface MatricesTable {
  id: string;
  request: string;
  created_at: string;
  owner: string | null;
  schedule_id: string | null;
  cancelled_at: string | null;
  cancelled_by: string | null;
  cancel_reason: string | null;
}

export interface RunsTable {
  id: string;
  matrix_id: string;
  seq: number;
  image_sha256: string;
  target_id: string;
  target_kind: string;
  suite: string;
  state: string;
  verdict: string | null;
  attempts: Generated<number>;
  /** The attempt whose verdicts are the run's (set when the run is done). */
  final_attempt: number | null;
  /** The RunJobData, kept so that a lost BullMQ job can be re-added as it was. */
  job: string;
  created_at: string;
  finished_at: string | null;
  /** The run this one re-runs (retry before regression); null for a run of the matrix's plan. */
  retry_of: Generated<string | null>;
  /**
   * 1 when the run's image failed its static checks (the agent ran them first and the suite says
   * so in its verdicts' evidence): such a run says nothing of the target it ran on.
   */
  image_failed_checks: Generated<number>;
}

export interface AttemptsTable {
  run_id: string;
  attempt: number;
  agent_id: string | null;
  started_at: string | null;
  finished_at: string | null;
  outcome: string | null;
  error: string | null;
  duration_ms: number | null;
}

export interface VerdictsTable {
  run_id: string;
  attempt: number;
  seq: number;
  suite: string;
  clause: string;
  level: string;
  verdict: string;
  message: string;
  evidence: string;
  /** A payload's PASS with a reservation (PARTIAL, WARNING); null otherwise. */
  qualifier: string | null;
}

/** Third-party payloads (issue 13): the manifest, its files' hashes, and the boot disk built from them (an image). */
export interface PayloadsTable {
  id: string;
  name: string;
  version: string;
  /** sha256 of the manifest and the files: the same payload added twice is one row per owner. */
  sha256: string;
  /** The payload's boot disk, stored as an image. */
  image_sha256: string;
  /** JSON: the manifest as validated. */
  manifest: string;
  /** JSON: [{ file, size, sha256 }]. */
  files: string;
  owner: string | null;
  created_at: string;
}

export interface ArtifactsTable {
  run_id: string;
  attempt: number;
  name: string;
  media_type: string;
  size: number | string;
  path: string;
}

export interface AgentsTable {
  id: string;
  name: string;
  host: string;
  version: string;
  capabilities: string;
  registered_at: string;
  last_heartbeat: string;
  /** The token that registered it; null for agents from before tokens were tied to agents. */
  token_id: string | null;
}

/** API tokens, kept as their sha256 only. */
export interface TokensTable {
  id: string;
  name: string;
  role: string;
  tenant: string | null;
  token_sha256: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Dashboard sessions, kept as the sha256 of their id. */
export interface SessionsTable {
  id: string;
  session_sha256: string;
  token_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/** Idempotency-Key of a submitted matrix, per token (`scope`). */
export interface IdempotencyKeysTable {
  scope: string;
  key: string;
  request_sha256: string;
  matrix_id: string;
  created_at: string;
}

/** Tenants granted an image another tenant uploaded first (they uploaded the same bytes). */
export interface ImageTenantsTable {
  sha256: string;
  tenant: string;
}

export interface ImageTagsTable {
  sha256: string;
  tag: string;
}

export interface SchedulesTable {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  /** JSON: { images, targets, suites, ready }. */
  spec: string;
  /** 0 or 1 (one type on both databases). */
  enabled: number;
  owner: string | null;
  next_run_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ScheduleFiresTable {
  schedule_id: string;
  due_at: string;
  fired_at: string;
  trigger: string;
  outcome: string;
  matrix_id: string | null;
  reason: string | null;
}

export interface KnownIssuesTable {
  id: string;
  title: string;
  owner: string;
  link: string | null;
  reason: string;
  expires_at: string | null;
  /** JSON: KnownIssueMatch. */
  match: string;
  fixed_after: number;
  tenant: string | null;
  version: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  expiry_notified_at: string | null;
}

export interface MatrixSettlementsTable {
  matrix_id: string;
  round: number;
  state: string;
  retried: number;
  /** JSON: what was reported when settled. */
  outcome: string | null;
  at: string;
}

export interface PoliciesTable {
  scope: string;
  tenant: string | null;
  retries: number | null;
  keep_days: number | null;
  keep_matrices: number | null;
  updated_at: string;
}

export interface HooksTable {
  id: string;
  scope: string;
  kind: string;
  url: string | null;
  /** JSON: e-mail addresses. */
  recipients: string | null;
  secret: string | null;
  /** JSON: HookEvent[]. */
  events: string;
  enabled: number;
  tenant: string | null;
  created_at: string;
  /** 1 when an admin made the hook: only then may its webhook reach internal addresses. */
  allow_internal: number;
}

export interface DeliveriesTable {
  id: string;
  hook_id: string;
  event_id: string;
  event: string;
  body: string;
  state: string;
  attempts: number;
  next_at: string | null;
  claimed_until: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface DeliveryAttemptsTable {
  delivery_id: string;
  attempt: number;
  at: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface DeletionsTable {
  id: string;
  at: string;
  kind: string;
  run_id: string | null;
  attempt: number | null;
  name: string | null;
  sha256: string | null;
  bytes: number | string;
  path: string;
  reason: string;
}

export interface Database {
  images: ImagesTable;
  targets: TargetsTable;
  matrices: MatricesTable;
  runs: RunsTable;
  attempts: AttemptsTable;
  verdicts: VerdictsTable;
  payloads: PayloadsTable;
  artifacts: ArtifactsTable;
  agents: AgentsTable;
  tokens: TokensTable;
  image_tenants: ImageTenantsTable;
  image_tags: ImageTagsTable;
  schedules: SchedulesTable;
  schedule_fires: ScheduleFiresTable;
  sessions: SessionsTable;
  idempotency_keys: IdempotencyKeysTable;
  known_issues: KnownIssuesTable;
  matrix_settlements: MatrixSettlementsTable;
  policies: PoliciesTable;
  hooks: HooksTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  deletions: DeletionsTable;
}
