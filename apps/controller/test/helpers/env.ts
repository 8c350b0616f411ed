import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';

// Every controller a test starts holds its answers to the route table (a mismatch is a 500).
process.env.VMFARM_VALIDATE_RESPONSES ??= '1';

/** The real service a test needs, or a clear failure: tests never silently skip. */
export function requireEnv(name: 'REDIS_URL' | 'VMFARM_TEST_PG_URL'): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run \`npm test\` (it starts Redis and PostgreSQL) or export ${name} for a server of your own`,
    );
  return value;
}

export function uniqueName(stem: string): string {
  return `${stem}_${randomBytes(6).toString('hex')}`;
}

export function tempDir(stem: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vmfarm-${stem}-`));
}

/** A PostgreSQL database of the test's own, dropped by `drop()`. */
export async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = requireEnv('VMFARM_TEST_PG_URL');
  const name = uniqueName('vmfarm_test');
  const client = new Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Both stores every store-touching test runs against. */
export interface StoreCase {
  name: 'sqlite' | 'postgres';
  /** A fresh database URL for one test, and its clean-up. */
  create(dir: string): Promise<{ databaseUrl: string; drop(): Promise<void> }>;
}

export const STORES: StoreCase[] = [
  {
    name: 'sqlite',
    create: async (dir) => ({
      databaseUrl: `sqlite:${path.join(dir, 'test.sqlite')}`,
      drop: async () => undefined,
    }),
  },
  {
    name: 'postgres',
    create: async () => {
      const db = await createPgDatabase();
      return { databaseUrl: db.url, drop: db.drop };
    },
  },
];

/** Polls until `check` returns a value (no timing assertions: the test's own timeout bounds it). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, everyMs = 200): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every file under a directory, relative paths. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}
