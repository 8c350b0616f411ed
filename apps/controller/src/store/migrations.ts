import { Kysely, Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely';

/** Versioned, in code: the compiled app needs no migration files on disk. Append, never edit. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('images')
        .addColumn('sha256', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('format', 'varchar(16)', (c) => c.notNull())
        .addColumn('arch', 'varchar(16)')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('uploaded_as', 'varchar(8)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('targets')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('kind', 'varchar(32)', (c) => c.notNull())
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('matrices')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('request', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('runs')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('matrix_id', 'varchar(64)', (c) => c.notNull().references('matrices.id'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('image_sha256', 'varchar(64)', (c) => c.notNull().references('images.sha256'))
        .addColumn('target_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('target_kind', 'varchar(32)', (c) => c.notNull())
        .addColumn('suite', 'varchar(100)', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('verdict', 'varchar(8)')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('final_attempt', 'integer')
        .addColumn('job', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('finished_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('runs_matrix').on('runs').columns(['matrix_id', 'seq']).execute();
      await db.schema.createIndex('runs_state').on('runs').column('state').execute();
      await db.schema
        .createTable('attempts')
        .addColumn('run_id', 'varchar(64)', (c) => c.notNull().references('runs.id'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('agent_id', 'varchar(64)')
        .addColumn('started_at', 'varchar(32)')
        .addColumn('finished_at', 'varchar(32)')
        .addColumn('outcome', 'varchar(8)')
        .addColumn('error', 'text')
        .addColumn('duration_ms', 'double precision')
        .addPrimaryKeyConstraint('attempts_pk', ['run_id', 'attempt'])
        .execute();
      await db.schema
        .createTable('verdicts')
        .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('suite', 'varchar(100)', (c) => c.notNull())
        .addColumn('clause', 'varchar(64)', (c) => c.notNull())
        .addColumn('level', 'varchar(8)', (c) => c.notNull())
        .addColumn('verdict', 'varchar(8)', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('evidence', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('verdicts_pk', ['run_id', 'attempt', 'seq'])
        .addForeignKeyConstraint('verdicts_attempt', ['run_id', 'attempt'], 'attempts', ['run_id', 'attempt'])
        .execute();
      await db.schema
        .createTable('artifacts')
        .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('media_type', 'varchar(200)', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('artifacts_pk', ['run_id', 'attempt', 'name'])
        .addForeignKeyConstraint('artifacts_attempt', ['run_id', 'attempt'], 'attempts', [
          'run_id',
          'attempt',
        ])
        .execute();
      await db.schema
        .createTable('agents')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('version', 'varchar(50)', (c) => c.notNull())
        .addColumn('capabilities', 'text', (c) => c.notNull())
        .addColumn('registered_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('last_heartbeat', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of [
        'agents',
        'artifacts',
        'verdicts',
        'attempts',
        'runs',
        'matrices',
        'targets',
        'images',
      ])
        await db.schema.dropTable(t).execute();
    },
  },
  '0003_tenants': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'varchar(16)', (c) => c.notNull())
        .addColumn('tenant', 'varchar(64)')
        .addColumn('token_sha256', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('last_used_at', 'varchar(32)')
        .addColumn('revoked_at', 'varchar(32)')
        .execute();
      // Owner: a tenant, or null for rows an admin made (public). Rows from before tenants are public.
      for (const table of ['images', 'targets', 'matrices']) {
        await db.schema.alterTable(table).addColumn('owner', 'varchar(64)').execute();
        await db.schema.createIndex(`${table}_owner`).on(table).column('owner').execute();
      }
      // Images are stored once by content: another tenant uploading the same bytes is granted access.
      await db.schema
        .createTable('image_tenants')
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull().references('images.sha256'))
        .addColumn('tenant', 'varchar(64)', (c) => c.notNull())
        .addPrimaryKeyConstraint('image_tenants_pk', ['sha256', 'tenant'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('image_tenants').execute();
      for (const table of ['matrices', 'targets', 'images']) {
        await db.schema.dropIndex(`${table}_owner`).execute();
        await db.schema.alterTable(table).dropColumn('owner').execute();
      }
      await db.schema.dropTable('tokens').execute();
    },
  },
  '0004_history': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('images').addColumn('version', 'text').execute();
      await db.schema.createIndex('images_name').on('images').columns(['name', 'created_at']).execute();
      await db.schema
        .createTable('image_tags')
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull().references('images.sha256'))
        .addColumn('tag', 'varchar(64)', (c) => c.notNull())
        .addPrimaryKeyConstraint('image_tags_pk', ['sha256', 'tag'])
        .execute();
      await db.schema.createIndex('image_tags_tag').on('image_tags').columns(['tag', 'sha256']).execute();
      await db.schema.alterTable('matrices').addColumn('schedule_id', 'varchar(64)').execute();
      await db.schema
        .createIndex('matrices_schedule')
        .on('matrices')
        .columns(['schedule_id', 'created_at'])
        .execute();
      // History and certification look runs up by target and by image.
      await db.schema.createIndex('runs_target').on('runs').columns(['target_id', 'finished_at']).execute();
      await db.schema.createIndex('runs_image').on('runs').columns(['image_sha256', 'finished_at']).execute();
      await db.schema
        .createTable('schedules')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('cron', 'varchar(100)', (c) => c.notNull())
        .addColumn('timezone', 'varchar(100)', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('owner', 'varchar(64)')
        .addColumn('next_run_at', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      // Vendors list their own schedules, like their images, targets and matrices.
      await db.schema.createIndex('schedules_owner').on('schedules').column('owner').execute();
      await db.schema
        .createTable('schedule_fires')
        .addColumn('schedule_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('due_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('fired_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('trigger', 'varchar(16)', (c) => c.notNull())
        .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
        .addColumn('matrix_id', 'varchar(64)')
        .addColumn('reason', 'text')
        // One row per due time: the cron job, a catch-up and another controller cannot fire it twice.
        .addPrimaryKeyConstraint('schedule_fires_pk', ['schedule_id', 'due_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const t of ['schedule_fires', 'schedules', 'image_tags']) await db.schema.dropTable(t).execute();
      for (const i of ['runs_image', 'runs_target', 'matrices_schedule', 'images_name'])
        await db.schema.dropIndex(i).execute();
      await db.schema.alterTable('matrices').dropColumn('schedule_id').execute();
      await db.schema.alterTable('images').dropColumn('version').execute();
    },
  },
  '0005_arch_declared': {
    // An architecture the submitter declared is handed to the suites as such; one the farm
    // detected (at upload, or by a suite) only plans the matrix.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('images')
        .addColumn('arch_declared', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('images').dropColumn('arch_declared').execute();
    },
  },
  '0006_api_bounds': {
    async up(db: Kysely<unknown>) {
      // Dashboard sessions: the cookie carries a session id (kept as its sha256), never the token.
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('session_sha256', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('token_id', 'varchar(64)', (c) => c.notNull().references('tokens.id'))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('revoked_at', 'varchar(32)')
        .execute();
      // The token that registered an agent: only it (or an admin) acts for the agent.
      await db.schema.alterTable('agents').addColumn('token_id', 'varchar(64)').execute();
      await db.schema.alterTable('matrices').addColumn('cancelled_at', 'varchar(32)').execute();
      await db.schema.alterTable('matrices').addColumn('cancelled_by', 'text').execute();
      await db.schema.alterTable('matrices').addColumn('cancel_reason', 'text').execute();
      // A submit repeated with the same Idempotency-Key (per token) answers the matrix it made.
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('scope', 'varchar(64)', (c) => c.notNull())
        .addColumn('key', 'varchar(200)', (c) => c.notNull())
        .addColumn('request_sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('matrix_id', 'varchar(64)', (c) => c.notNull().references('matrices.id'))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
        .execute();
      // 'cancelled' is one character more than varchar(8) holds (SQLite does not check lengths).
      if (db.getExecutor().adapter instanceof PostgresAdapter)
        await db.schema
          .alterTable('attempts')
          .alterColumn('outcome', (c) => c.setDataType('varchar(16)'))
          .execute();
      // Heartbeats look up the cancelled attempts an agent holds.
      await db.schema.createIndex('attempts_agent').on('attempts').columns(['agent_id', 'outcome']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('attempts_agent').execute();
      if (db.getExecutor().adapter instanceof PostgresAdapter)
        await db.schema
          .alterTable('attempts')
          .alterColumn('outcome', (c) => c.setDataType('varchar(8)'))
          .execute();
      await db.schema.dropTable('idempotency_keys').execute();
      for (const c of ['cancel_reason', 'cancelled_by', 'cancelled_at'])
        await db.schema.alterTable('matrices').dropColumn(c).execute();
      await db.schema.alterTable('agents').dropColumn('token_id').execute();
      await db.schema.dropTable('sessions').execute();
    },
  },
  '0007_triage': {
    // Known issues, retry before regression, notifications and retention (issue 14).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('known_issues')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('link', 'text')
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)')
        .addColumn('match', 'text', (c) => c.notNull())
        .addColumn('fixed_after', 'integer', (c) => c.notNull())
        .addColumn('tenant', 'varchar(64)')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('closed_at', 'varchar(32)')
        // Set once the expiry was announced: a restart or a second controller announces it no more.
        .addColumn('expiry_notified_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('known_issues_tenant').on('known_issues').column('tenant').execute();
      // A retry before regression is a run of its own in the same matrix, pointing at the run it re-runs.
      await db.schema.alterTable('runs').addColumn('retry_of', 'varchar(64)').execute();
      await db.schema.createIndex('runs_retry_of').on('runs').column('retry_of').execute();
      await db.schema
        .createTable('matrix_settlements')
        .addColumn('matrix_id', 'varchar(64)', (c) => c.notNull())
        // Round n: the matrix was done for the n-th time (0: its plan; 1: after the first retries…).
        .addColumn('round', 'integer', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('retried', 'integer', (c) => c.notNull())
        .addColumn('outcome', 'text')
        .addColumn('at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('matrix_settlements_pk', ['matrix_id', 'round'])
        .execute();
      await db.schema
        .createTable('policies')
        // 'farm', 'tenant:<tenant>' or 'schedule:<id>'.
        .addColumn('scope', 'varchar(200)', (c) => c.primaryKey())
        .addColumn('tenant', 'varchar(64)')
        .addColumn('retries', 'integer')
        .addColumn('keep_days', 'integer')
        .addColumn('keep_matrices', 'integer')
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('hooks')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('scope', 'varchar(200)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('recipients', 'text')
        .addColumn('secret', 'text')
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('tenant', 'varchar(64)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('hooks_scope').on('hooks').column('scope').execute();
      await db.schema
        .createTable('deliveries')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('hook_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('event_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('event', 'varchar(32)', (c) => c.notNull())
        // The exact bytes sent (and signed), the same in every retry.
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_at', 'varchar(32)')
        // A sender holds a delivery until then: another controller leaves it alone meanwhile.
        .addColumn('claimed_until', 'varchar(32)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('delivered_at', 'varchar(32)')
        .addUniqueConstraint('deliveries_once', ['hook_id', 'event_id'])
        .execute();
      await db.schema.createIndex('deliveries_due').on('deliveries').columns(['state', 'next_at']).execute();
      await db.schema
        .createIndex('deliveries_hook')
        .on('deliveries')
        .columns(['hook_id', 'created_at'])
        .execute();
      await db.schema
        .createTable('delivery_attempts')
        .addColumn('delivery_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'varchar(32)', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('error', 'text')
        .addColumn('duration_ms', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('delivery_attempts_pk', ['delivery_id', 'attempt'])
        .execute();
      await db.schema
        .createTable('deletions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('at', 'varchar(32)', (c) => c.notNull())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        .addColumn('run_id', 'varchar(64)')
        .addColumn('attempt', 'integer')
        .addColumn('name', 'varchar(100)')
        .addColumn('sha256', 'varchar(64)')
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('deletions_at').on('deletions').column('at').execute();
      // Matrices finished before triage existed are settled as they are: nothing is reported for them.
      await sql`insert into matrix_settlements (matrix_id, round, state, retried, outcome, at)
        select m.id, 0, 'settled', 0, null, m.created_at from matrices m
        where not exists (select 1 from runs r where r.matrix_id = m.id and r.state <> 'done')`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      for (const t of [
        'deletions',
        'delivery_attempts',
        'deliveries',
        'hooks',
        'policies',
        'matrix_settlements',
        'known_issues',
      ])
        await db.schema.dropTable(t).execute();
      await db.schema.dropIndex('runs_retry_of').execute();
      await db.schema.alterTable('runs').dropColumn('retry_of').execute();
    },
  },
  '0008_hook_egress': {
    async up(db: Kysely<unknown>) {
      // Only an admin's hook may reach internal addresses; hooks made before this were unchecked,
      // so they keep it only when an admin made them (no tenant).
      await db.schema
        .alterTable('hooks')
        .addColumn('allow_internal', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update hooks set allow_internal = 1 where tenant is null`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('hooks').dropColumn('allow_internal').execute();
    },
  },
  '0009_image_failed_checks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('runs')
        .addColumn('image_failed_checks', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // Runs recorded before the column say it in their verdicts' evidence only (JSON text, as the
      // suites wrote it); read it there once.
      await sql`update runs set image_failed_checks = 1 where id in (select distinct run_id from verdicts where evidence like ${'%"imageChecks":{"passed":false%'})`.execute(
        db,
      );
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('runs').dropColumn('image_failed_checks').execute();
    },
  },
  '0011_payloads': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('payloads')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(32)', (c) => c.notNull())
        .addColumn('version', 'varchar(32)', (c) => c.notNull())
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('image_sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addColumn('files', 'text', (c) => c.notNull())
        .addColumn('owner', 'varchar(64)')
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('payloads_name').on('payloads').columns(['name', 'version']).execute();
      await db.schema.alterTable('verdicts').addColumn('qualifier', 'varchar(16)').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('verdicts').dropColumn('qualifier').execute();
      await db.schema.dropTable('payloads').execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      failed ? `database migration ${failed} failed: ${reason}` : `cannot open the database: ${reason}`,
    );
  }
}
