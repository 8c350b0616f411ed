import * as fs from 'node:fs';
import * as path from 'node:path';
import { Logger } from '@nestjs/common';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import type { Database } from './schema';
import { migrateToLatest } from './migrations';

export type Db = Kysely<Database>;

export interface DatabaseTarget {
  kind: 'sqlite' | 'postgres';
  /** File path for SQLite, connection string for PostgreSQL. */
  location: string;
}

/** `postgres://…` / `postgresql://…` → PostgreSQL; `sqlite:PATH` or nothing → SQLite. */
export function databaseTarget(databaseUrl: string | undefined, dataDir: string): DatabaseTarget {
  if (!databaseUrl) return { kind: 'sqlite', location: path.join(dataDir, 'vmfarm.sqlite') };
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return { kind: 'postgres', location: databaseUrl };
  if (databaseUrl.startsWith('sqlite:'))
    return { kind: 'sqlite', location: path.resolve(databaseUrl.slice(7)) };
  throw new Error(`DATABASE_URL must start with postgres:// or sqlite:, got '${databaseUrl}'`);
}

/** Opens the database and brings its schema to the latest migration. */
export async function openDatabase(target: DatabaseTarget): Promise<Db> {
  let db: Db;
  if (target.kind === 'sqlite') {
    fs.mkdirSync(path.dirname(target.location), { recursive: true });
    const sqlite = new SqliteDatabase(target.location);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  } else {
    const pool = new Pool({ connectionString: target.location, max: 10 });
    // An idle client whose server connection ends (a PostgreSQL restart, an administrator's
    // termination) makes the pool emit 'error'; unhandled, that would crash the controller. The pool
    // drops that client and the next query opens a new connection.
    pool.on('error', (err) => new Logger('Database').warn(`idle PostgreSQL connection lost: ${err.message}`));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  try {
    await migrateToLatest(db as Kysely<unknown>);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}
