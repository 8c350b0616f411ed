import { HostError } from './process';

/**
 * ioredis connection options (what BullMQ's `connection` and `new Redis()` take): TCP through host and
 * port, or a unix socket through path. Declared here so that libs/host needs no ioredis.
 */
export interface RedisConnection {
  host?: string;
  port?: number;
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
  /** null: a command waits for a reconnect instead of failing after N retries (BullMQ workers need it). */
  maxRetriesPerRequest: null;
}

/** The URL forms every part of the farm accepts for REDIS_URL and --redis. */
export const REDIS_URL_FORMS =
  'redis://[user:password@]host[:port][/db], rediss://… (TLS), ' +
  'redis+unix:///path/to/socket[?db=N&password=P] or unix:///path/to/socket[?db=N&password=P]';

function database(raw: string | null, redisUrl: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  const db = Number(raw);
  if (!Number.isSafeInteger(db) || db < 0)
    throw new HostError(`Redis URL ${redact(redisUrl)}: database '${raw}' is not a non-negative integer`);
  return db;
}

/** The URL with its password replaced, for messages. */
function redact(redisUrl: string): string {
  return redisUrl.replace(/(:\/\/[^:/@]*:)[^@/]*@/, '$1***@').replace(/([?&]password=)[^&]*/, '$1***');
}

/**
 * Connection options from a Redis URL: `redis://` and `rediss://` (TLS) with user, password and
 * database number in the path; `redis+unix://` and `unix://` with the socket path, and the database
 * and password as query parameters (a socket URL has no host part to hold them).
 */
export function redisConnection(redisUrl: string): RedisConnection {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    throw new HostError(`Redis URL ${redact(redisUrl)} is not a URL; expected ${REDIS_URL_FORMS}`);
  }
  const decoded = (s: string) => (s ? decodeURIComponent(s) : undefined);
  const credentials = {
    username: decoded(url.username) ?? url.searchParams.get('username') ?? undefined,
    password: decoded(url.password) ?? url.searchParams.get('password') ?? undefined,
  };
  switch (url.protocol) {
    case 'redis:':
    case 'rediss:':
      return {
        // An IPv6 literal comes bracketed in the URL; ioredis wants it bare.
        host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
        port: Number(url.port || 6379),
        ...credentials,
        db: database(url.pathname.slice(1) || url.searchParams.get('db'), redisUrl),
        tls: url.protocol === 'rediss:' ? {} : undefined,
        maxRetriesPerRequest: null,
      };
    case 'redis+unix:':
    case 'unix:': {
      const path = decodeURIComponent(url.pathname);
      if (url.host || !path.startsWith('/'))
        throw new HostError(
          `Redis URL ${redact(redisUrl)}: a socket URL names an absolute path and no host (${url.protocol}///path/to/socket)`,
        );
      return {
        path,
        ...credentials,
        db: database(url.searchParams.get('db'), redisUrl),
        maxRetriesPerRequest: null,
      };
    }
    default:
      throw new HostError(
        `Redis URL ${redact(redisUrl)}: unknown scheme '${url.protocol}'; expected ${REDIS_URL_FORMS}`,
      );
  }
}
