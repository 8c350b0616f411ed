/**
 * The bounds the controller puts on every input, with their defaults and the environment variable
 * that changes each one. The README's "Limits" table, the controller's configuration and the route
 * table's `limits` all name them from here.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface LimitInfo {
  env: string;
  default: number;
  unit: 'bytes' | 'cells' | 'items' | 'seconds' | 'milliseconds';
  /** What is bounded, and what a breach answers. */
  doc: string;
}

export const LIMITS = {
  jsonBodyBytes: {
    env: 'VMFARM_MAX_JSON_BYTES',
    default: 1 * MiB,
    unit: 'bytes',
    doc: 'a JSON request body (every route but uploads and attempt results); 413, checked from Content-Length before reading and while reading',
  },
  resultBodyBytes: {
    env: 'VMFARM_MAX_RESULT_BYTES',
    default: 64 * MiB,
    unit: 'bytes',
    doc: "an agent's attempt result (verdicts and base64 artifacts), or a payload added (its files in base64); 413",
  },
  imageBytes: {
    env: 'VMFARM_MAX_IMAGE_BYTES',
    default: 64 * GiB,
    unit: 'bytes',
    doc: 'one uploaded image, decompressed (and its compressed stream), written sparse; 413, nothing stored',
  },
  tenantImageBytes: {
    env: 'VMFARM_TENANT_IMAGE_QUOTA',
    default: 256 * GiB,
    unit: 'bytes',
    doc: "the images a vendor's tenant owns, decompressed, all together; 413, nothing stored (0: no quota)",
  },
  matrixCells: {
    env: 'VMFARM_MAX_MATRIX_CELLS',
    default: 2000,
    unit: 'cells',
    doc: 'cells (image × target × suite) of one matrix; 400, nothing written',
  },
  tenantActiveCells: {
    env: 'VMFARM_MAX_TENANT_CELLS',
    default: 10000,
    unit: 'cells',
    doc: "a vendor tenant's runs not yet done, a new matrix's included; 429, nothing written (0: no limit)",
  },
  pageSize: {
    env: 'VMFARM_MAX_PAGE_SIZE',
    default: 500,
    unit: 'items',
    doc: 'the `limit` of a list (default 50, or this when lower); 400',
  },
  responseBytes: {
    env: 'VMFARM_MAX_RESPONSE_BYTES',
    default: 16 * MiB,
    unit: 'bytes',
    doc: 'a JSON answer; 400 naming the paging parameters to ask for less',
  },
  scheduleIntervalSeconds: {
    env: 'VMFARM_MIN_SCHEDULE_SECONDS',
    default: 3600,
    unit: 'seconds',
    doc: 'the shortest time between two fires of a schedule; 400 (0: no minimum)',
  },
  sessionSeconds: {
    env: 'VMFARM_SESSION_SECONDS',
    default: 12 * 3600,
    unit: 'seconds',
    doc: 'how long a dashboard session (POST /api/session) lasts; then 401',
  },
  redisTimeoutMs: {
    env: 'VMFARM_REDIS_TIMEOUT_MS',
    default: 5000,
    unit: 'milliseconds',
    doc: 'how long a request waits on Redis (submitting a matrix, say) before answering 503, nothing written',
  },
} as const satisfies Record<string, LimitInfo>;

export type LimitName = keyof typeof LIMITS;
export type Limits = Record<LimitName, number>;

export const DEFAULT_LIMITS: Limits = Object.fromEntries(
  Object.entries(LIMITS).map(([k, v]) => [k, v.default]),
) as Limits;

/** The page size of a list when the request gives no `limit`. */
export const DEFAULT_PAGE_SIZE = 50;

function amount(value: number, unit: LimitInfo['unit']): string {
  if (unit === 'bytes')
    for (const [size, name] of [
      [GiB, 'GiB'],
      [MiB, 'MiB'],
      [KiB, 'KiB'],
    ] as const)
      if (value >= size && value % size === 0) return `${value / size} ${name}`;
  if (unit === 'seconds' && value >= 3600 && value % 3600 === 0) return `${value / 3600} h`;
  const short = { bytes: 'bytes', cells: 'cells', items: 'items', seconds: 's', milliseconds: 'ms' };
  return `${value} ${short[unit]}`;
}

/** The rows of the README's "Limits" table (a test keeps the README equal to them). */
export function limitsTable(): string {
  return Object.values(LIMITS)
    .map((l: LimitInfo) => `| \`${l.env}\` | ${amount(l.default, l.unit)} | ${l.doc} |\n`)
    .join('');
}
