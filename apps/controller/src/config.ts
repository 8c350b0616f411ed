import * as path from 'node:path';
import { redisConnection } from '@vmfarm/host';
import {
  DEFAULT_LIMITS,
  DEFAULT_QUEUE_PREFIX,
  LIMITS,
  tokenSecretSchema,
  type LimitName,
  type Limits,
} from '@vmfarm/protocol';

export interface ControllerConfig {
  port: number;
  host: string;
  dataDir: string;
  /** `postgres://…` selects PostgreSQL; `sqlite:PATH` or undefined is SQLite (default `<data>/vmfarm.sqlite`). */
  databaseUrl?: string;
  redisUrl: string;
  queuePrefix: string;
  /** Every input bound (README "Limits"; VMFARM_MAX_* and friends). */
  limits: Limits;
  /** Checks every answer against the route table too (tests; VMFARM_VALIDATE_RESPONSES=1): a mismatch is a 500. */
  validateResponses: boolean;
  /** Bundled base target profiles (`deploy/targets/*.json`). */
  targetsDir: string;
  /** Agents heartbeat this often; three missed beats count as offline. */
  heartbeatSeconds: number;
  /** Registered as an admin token at start (VMFARM_ADMIN_TOKEN); without it one is made on first start. */
  adminToken?: string;
  /** Where people reach the controller (VMFARM_PUBLIC_URL): links in notifications and exports. */
  publicUrl?: string;
  /** Notifications: the wait after a failed delivery doubles from this (VMFARM_WEBHOOK_BACKOFF_MS). */
  deliveryBackoffMs: number;
  /** … up to this many attempts, then the delivery is failed (VMFARM_WEBHOOK_ATTEMPTS). */
  deliveryAttempts: number;
  /** SMTP server for e-mail hooks (VMFARM_SMTP_URL, e.g. smtp://mail:25); none: e-mail hooks refused. */
  smtpUrl?: string;
  /** Sender of those mails (VMFARM_SMTP_FROM). */
  smtpFrom: string;
  /** The janitor runs this often (VMFARM_JANITOR_INTERVAL_SECONDS); 0: only when asked. */
  janitorIntervalSeconds: number;
  /**
   * How long a waiting run may have no online agent able to take it (agents coming online, say)
   * before it is recorded SKIP (VMFARM_PLACEMENT_GRACE_SECONDS).
   */
  placementGraceSeconds: number;
}

/** From dist/src/ of this app up to the repository root. */
const BUNDLED_TARGETS = path.resolve(__dirname, '../../../../deploy/targets');

/** Long enough for agents restarting with the controller to register and heartbeat again. */
export const DEFAULT_PLACEMENT_GRACE_SECONDS = 30;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ConfigError(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  if (!env.REDIS_URL) throw new ConfigError('REDIS_URL is required (e.g. redis://127.0.0.1:6379)');
  try {
    redisConnection(env.REDIS_URL);
  } catch (err) {
    throw new ConfigError(`REDIS_URL is unusable: ${(err as Error).message}`);
  }
  if (env.VMFARM_ADMIN_TOKEN && !tokenSecretSchema.safeParse(env.VMFARM_ADMIN_TOKEN).success)
    throw new ConfigError('VMFARM_ADMIN_TOKEN must be a vmfarm token: vmf_ and 43 base64url characters');
  return resolveConfig({
    port: integer('PORT', env.PORT, 8700),
    host: env.HOST || '127.0.0.1',
    dataDir: env.VMFARM_DATA || path.resolve('.vmfarm/data'),
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL,
    queuePrefix: env.VMFARM_QUEUE_PREFIX || DEFAULT_QUEUE_PREFIX,
    limits: Object.fromEntries(
      (Object.keys(LIMITS) as LimitName[]).map((k) => [
        k,
        integer(LIMITS[k].env, env[LIMITS[k].env], LIMITS[k].default),
      ]),
    ) as Limits,
    validateResponses: env.VMFARM_VALIDATE_RESPONSES === '1',
    targetsDir: env.VMFARM_TARGETS_DIR || undefined,
    adminToken: env.VMFARM_ADMIN_TOKEN || undefined,
    publicUrl: env.VMFARM_PUBLIC_URL || undefined,
    deliveryBackoffMs: integer('VMFARM_WEBHOOK_BACKOFF_MS', env.VMFARM_WEBHOOK_BACKOFF_MS, 30_000),
    deliveryAttempts: integer('VMFARM_WEBHOOK_ATTEMPTS', env.VMFARM_WEBHOOK_ATTEMPTS, 8),
    smtpUrl: env.VMFARM_SMTP_URL || undefined,
    smtpFrom: env.VMFARM_SMTP_FROM || undefined,
    janitorIntervalSeconds: integer(
      'VMFARM_JANITOR_INTERVAL_SECONDS',
      env.VMFARM_JANITOR_INTERVAL_SECONDS,
      3600,
    ),
    placementGraceSeconds: integer(
      'VMFARM_PLACEMENT_GRACE_SECONDS',
      env.VMFARM_PLACEMENT_GRACE_SECONDS,
      DEFAULT_PLACEMENT_GRACE_SECONDS,
    ),
  });
}

/**
 * Fills defaults for in-process use: only redisUrl and dataDir are required. Limits not given are
 * the defaults; answers are validated when VMFARM_VALIDATE_RESPONSES=1 (the test helpers set it).
 */
export function resolveConfig(
  partial: Partial<Omit<ControllerConfig, 'limits'>> &
    Pick<ControllerConfig, 'redisUrl' | 'dataDir'> & { limits?: Partial<Limits> },
): ControllerConfig {
  return {
    port: partial.port ?? 8700,
    host: partial.host ?? '127.0.0.1',
    dataDir: path.resolve(partial.dataDir),
    databaseUrl: partial.databaseUrl,
    redisUrl: partial.redisUrl,
    queuePrefix: partial.queuePrefix ?? DEFAULT_QUEUE_PREFIX,
    limits: { ...DEFAULT_LIMITS, ...partial.limits },
    validateResponses: partial.validateResponses ?? process.env.VMFARM_VALIDATE_RESPONSES === '1',
    targetsDir: partial.targetsDir ?? BUNDLED_TARGETS,
    heartbeatSeconds: partial.heartbeatSeconds ?? 5,
    adminToken: partial.adminToken,
    publicUrl: partial.publicUrl,
    deliveryBackoffMs: partial.deliveryBackoffMs ?? 30_000,
    deliveryAttempts: partial.deliveryAttempts ?? 8,
    smtpUrl: partial.smtpUrl,
    smtpFrom: partial.smtpFrom ?? 'vmfarm@localhost',
    // In process (tests, embedding) the janitor runs when asked; `vmfarm serve` and main set it.
    janitorIntervalSeconds: partial.janitorIntervalSeconds ?? 0,
    placementGraceSeconds: partial.placementGraceSeconds ?? DEFAULT_PLACEMENT_GRACE_SECONDS,
  };
}
