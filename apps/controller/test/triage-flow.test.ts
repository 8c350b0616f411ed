import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  deliveryViewSchema,
  knownIssueViewSchema,
  matrixReportSchema,
  notificationSchema,
  triagedCertificationSchema,
  triagedRegressionsSchema,
  type MatrixView,
  type Notification,
  type Verdict,
} from '@vmfarm/protocol';
import { SMTPServer } from 'smtp-server';
import { createApp } from '../src/app';
import { resolveConfig, type ControllerConfig } from '../src/config';
import { SIGNATURE_HEADER, verify } from '../src/triage/signature';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { eventually, requireEnv, tempDir, uniqueName } from './helpers/env';
import { settle, type Script } from './helpers/scripted';

/** A webhook receiver on 127.0.0.1 that refuses the first `refuse` requests with 503. */
class Receiver {
  /** The hook's secret, once the controller made it. */
  secret?: string;
  readonly received: { headers: IncomingMessage['headers']; body: string; status: number }[] = [];
  private server?: Server;
  constructor(private refuse: number) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const status = this.refuse > 0 ? 503 : 200;
        if (this.refuse > 0) this.refuse--;
        this.received.push({ headers: req.headers, body, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  accepted(): Notification[] {
    return this.received
      .filter((r) => r.status === 200)
      .map((r) => notificationSchema.parse(JSON.parse(r.body)));
  }

  close(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

/**
 * Release-team triage end to end on the real controller (SQLite, real Redis): retry before
 * regression with a scripted flaky suite, ERROR never a regression, known issues explaining FAILs
 * until they expire, signed webhooks retried across a controller restart, e-mail through a real
 * SMTP server.
 */
describe('triage (SQLite, real Redis)', () => {
  let app: NestExpressApplication;
  let config: ControllerConfig;
  const dir = tempDir('triage-flow');
  const http = () => authed(app.getHttpServer(), ADMIN_TOKEN);
  const farm = new Receiver(0);
  const flaky = new Receiver(2);
  const mails: { to: string[]; data: string }[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString()));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data });
        callback();
      });
    },
  });
  let farmUrl: string;
  let flakyUrl: string;

  before(async () => {
    farmUrl = await farm.start();
    flakyUrl = await flaky.start();
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    config = resolveConfig({
      redisUrl: requireEnv('REDIS_URL'),
      dataDir: dir,
      queuePrefix: uniqueName('triage'),
      adminToken: ADMIN_TOKEN,
      deliveryBackoffMs: 200,
      smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
      smtpFrom: 'farm@vmfarm.test',
    });
    app = await createApp(config);
  });
  after(async () => {
    await app.close();
    await farm.close();
    await flaky.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const upload = async (fill: number, version: string) =>
    (
      await http()
        .put(`/api/images?arch=aarch64&name=distro&version=${version}&tags=nightly`)
        .set('content-type', 'application/octet-stream')
        .send(Buffer.alloc(1024, fill))
        .expect(201)
    ).body.sha256 as string;
  const runNow = async (id: string) =>
    (await http().post(`/api/schedules/${id}/run`).expect(201)).body as MatrixView;
  const regressions = async (id: string) =>
    triagedRegressionsSchema.parse((await http().get(`/api/schedules/${id}/regressions`).expect(200)).body);
  const all =
    (verdicts: Record<string, Verdict>): Script =>
    () => ({ verdicts });

  let scheduleId: string;

  it('takes webhooks and e-mail hooks, refusing what a caller may not set', async () => {
    await upload(1, '1');
    scheduleId = (
      await http()
        .post('/api/schedules')
        .send({
          name: 'nightly',
          cron: '0 2 * * *',
          images: { tags: ['nightly'] },
          targets: ['static'],
          suites: ['static'],
        })
        .expect(201)
    ).body.id;
    const hook = (
      await http()
        .post('/api/hooks')
        .send({ scope: { kind: 'farm' }, webhook: { url: farmUrl, secret: 'farm-secret-farm-secret' } })
        .expect(201)
    ).body;
    assert.equal(hook.secret, 'farm-secret-farm-secret', 'shown once');
    assert.deepEqual(hook.events, ['matrix.done', 'regression', 'fix', 'issue.expired']);
    const made = (
      await http()
        .post('/api/hooks')
        .send({
          scope: { kind: 'schedule', scheduleId },
          events: ['matrix.done'],
          webhook: { url: flakyUrl },
        })
        .expect(201)
    ).body;
    assert.match(made.secret, /^[A-Za-z0-9_-]{32}$/, 'made when not given');
    flaky.secret = made.secret;
    await http()
      .post('/api/hooks')
      .send({
        scope: { kind: 'tenant', tenant: 'acme' },
        email: { to: ['qa@acme.test'] },
        events: ['regression'],
      })
      .expect(201);
    await http()
      .post('/api/hooks')
      .send({ scope: { kind: 'farm' } })
      .expect(400);
    await http()
      .post('/api/hooks')
      .send({ scope: { kind: 'schedule', scheduleId: 'nope' }, webhook: { url: farmUrl } })
      .expect(404);
    const listed = (await http().get('/api/hooks').expect(200)).body as { secret?: string }[];
    assert.equal(listed.length, 3);
    assert.ok(
      listed.every((h) => h.secret === undefined),
      'never listed with its secret',
    );
  });

  it('delivers signed notifications, retrying with back-off across a controller restart', async () => {
    const first = await runNow(scheduleId);
    await settle(http(), first, all({ 'IMG-GPT': 'PASS', 'IMG-ESP': 'PASS' }));
    // The schedule's hook refuses its first delivery; the controller stops before the retry.
    await eventually(async () => flaky.received.length >= 1 || undefined);
    await app.close();
    app = await createApp(config);
    await eventually(async () => flaky.accepted().length >= 1 || undefined);
    assert.deepEqual(
      flaky.received.map((r) => r.status),
      [503, 503, 200],
    );
    for (const r of flaky.received) {
      assert.ok(
        verify(flaky.secret!, r.body, r.headers[SIGNATURE_HEADER] as string),
        'signed with its secret',
      );
      assert.equal(r.headers['x-vmfarm-event'], 'matrix.done');
    }
    assert.equal(new Set(flaky.received.map((r) => r.body)).size, 1, 'the same body every attempt');
    const [done] = flaky.accepted();
    assert.equal(done.event, 'matrix.done');
    assert.deepEqual((done.data.matrix as { id: string }).id, first.id);
    const hooks = (await http().get('/api/hooks').expect(200)).body as { id: string; url: string | null }[];
    const mine = hooks.find((h) => h.url === flakyUrl)!;
    const [log] = (await http().get(`/api/hooks/${mine.id}/deliveries`).expect(200)).body.map((d: unknown) =>
      deliveryViewSchema.parse(d),
    );
    assert.deepEqual(
      [log.state, log.attempts, log.log.map((a: { status: number | null }) => a.status)],
      ['delivered', 3, [503, 503, 200]],
    );
    await eventually(async () => farm.accepted().some((n) => n.event === 'matrix.done') || undefined);
  });

  it('re-runs a cell that went PASS → FAIL once, and calls it flaky when the retry passes', async () => {
    await upload(2, '2');
    const second = await runNow(scheduleId);
    // The scripted flaky suite: IMG-GPT fails on the matrix's own run, passes when re-run.
    const { matrix, triage } = await settle(http(), second, (cell) => ({
      verdicts: {
        'IMG-GPT': second.cells.some((c) => c.runId === cell.runId) ? 'FAIL' : 'PASS',
        'IMG-ESP': 'PASS',
      },
    }));
    assert.equal(matrix.cells.length, 2, 'one retry');
    const [orig, retry] = triage.cells;
    assert.deepEqual([orig.supersededBy, retry.retryOf, retry.flaky], [retry.runId, orig.runId, true]);
    assert.deepEqual([triage.settlement?.state, triage.settlement?.retried], ['settled', 1]);
    const r = await regressions(scheduleId);
    assert.deepEqual(r.regressions, [], 'no regression');
    assert.deepEqual(
      r.flaky.map((f) => [f.suite, f.before, f.retriedRunId, f.runId]),
      [['static', 'FAIL', orig.runId, retry.runId]],
    );
    const report = matrixReportSchema.parse(
      (await http().get(`/api/matrices/${second.id}/report`).expect(200)).body,
    );
    assert.equal(report.summary.result, 'PASS', 'the retry’s verdict counts');
    const done = await eventually(async () =>
      farm
        .accepted()
        .find((n) => n.event === 'matrix.done' && (n.data.matrix as { id: string }).id === second.id),
    );
    assert.deepEqual([done.data.flaky, done.data.regressions, done.data.retried], [1, 0, 1]);
  });

  it('re-runs PASS → ERROR too, and never calls an ERROR a regression of the subject', async () => {
    const third = await runNow(scheduleId);
    const { matrix } = await settle(http(), third, all({ 'IMG-GPT': 'ERROR', 'IMG-ESP': 'PASS' }));
    assert.equal(matrix.cells.length, 2, 'retried once, errored again');
    const r = await regressions(scheduleId);
    assert.deepEqual([r.regressions, r.flaky], [[], []]);
    assert.deepEqual(
      r.errors.map((e) => [e.clause, e.before, e.after]),
      [['IMG-GPT', 'PASS', 'ERROR']],
    );
  });

  let regressed: MatrixView;

  it('reports a FAIL that survives its retry as a regression, notified by webhook and e-mail', async () => {
    await settle(http(), await runNow(scheduleId), all({ 'IMG-GPT': 'PASS', 'IMG-ESP': 'PASS' }));
    await upload(3, '3');
    regressed = (
      await settle(http(), await runNow(scheduleId), all({ 'IMG-GPT': 'FAIL', 'IMG-ESP': 'PASS' }))
    ).matrix;
    const r = await regressions(scheduleId);
    assert.deepEqual(
      r.regressions.map((x) => [x.imageName, x.clause, x.before, x.after]),
      [['distro', 'IMG-GPT', 'PASS', 'FAIL']],
    );
    const note = await eventually(async () =>
      farm.accepted().find((n) => n.event === 'regression' && n.data.matrixId === regressed.id),
    );
    assert.equal((note.data.regressions as { clause: string }[])[0].clause, 'IMG-GPT');
    // The tenant hook is acme's: this public matrix mails nobody.
    assert.deepEqual(mails, []);
  });

  it('turns a matching FAIL into FAIL (known) until the issue expires, then it is a regression again', async () => {
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const bad = await http()
      .post('/api/known-issues')
      .send({ title: 't', owner: 'o', reason: 'r', match: { clauses: ['IMG-*'], message: '(a)\\1' } })
      .expect(400);
    assert.equal(bad.body.errors[0].path, 'match.message');
    const issue = knownIssueViewSchema.parse(
      (
        await http()
          .post('/api/known-issues')
          .send({
            title: 'GPT backup header rewritten by the installer',
            owner: 'distro release team',
            link: 'https://bugs.example.org/4242',
            reason: 'the installer writes the backup GPT one sector early; fixed in 4',
            expiresAt,
            match: {
              clauses: ['IMG-G?T'],
              target: 'stat*',
              imageName: 'distro',
              imageTag: 'night*',
              message: 'FAIL$',
            },
            fixedAfter: 1,
          })
          .expect(201)
      ).body,
    );
    assert.deepEqual(
      [issue.state, issue.lastMatchRunId !== null, issue.possiblyFixed, issue.tenant],
      ['active', true, false, null],
    );
    const r = await regressions(scheduleId);
    assert.deepEqual(r.regressions, [], 'known: no regression');
    assert.deepEqual(
      r.known.map((k) => [k.clause, k.issues.map((i) => i.id)]),
      [['IMG-GPT', [issue.id]]],
    );
    const report = matrixReportSchema.parse(
      (await http().get(`/api/matrices/${regressed.id}/report`).expect(200)).body,
    );
    const cell = report.cells.find((c) => c.supersededBy === null)!;
    assert.equal(cell.verdicts.find((v) => v.clause === 'IMG-GPT')?.verdict, 'FAIL', 'still a FAIL');
    assert.deepEqual(cell.known, [{ clause: 'IMG-GPT', issues: [{ id: issue.id, title: issue.title }] }]);
    assert.deepEqual(
      [report.summary.fail, report.summary.known, report.summary.knownFailures, report.summary.result],
      [0, 1, ['IMG-GPT'], 'FAIL'],
    );
    const junit = (await http().get(`/api/matrices/${regressed.id}/report?format=junit`).expect(200)).text;
    assert.match(junit, new RegExp(`<property name="known-issue" value="${issue.id}: GPT backup header`));
    assert.match(junit, /<failure message="IMG-GPT FAIL \(known: ki-/);
    const cert = triagedCertificationSchema.parse(
      (await http().get('/api/certification/targets/static').expect(200)).body,
    );
    const gpt = cert.clauses.find((c) => c.clause === 'IMG-GPT')!;
    assert.deepEqual([gpt.verdict, gpt.waivedBy.map((w) => w.id)], ['FAIL', [issue.id]]);
    assert.deepEqual([cert.waivers.map((w) => w.id), cert.allPass], [[issue.id], false]);
    const triage = (await http().get(`/api/matrices/${regressed.id}/triage`).expect(200)).body;
    assert.deepEqual(triage.cells.at(-1).known[0].clause, 'IMG-GPT');

    // Expiry: it matches no more, is listed as expired and announced once.
    await eventually(
      async () =>
        (await http().get(`/api/known-issues/${issue.id}`).expect(200)).body.state === 'expired' || undefined,
    );
    const again = await regressions(scheduleId);
    assert.deepEqual([again.known, again.regressions.map((x) => x.clause)], [[], ['IMG-GPT']]);
    const expired = await eventually(async () => farm.accepted().find((n) => n.event === 'issue.expired'));
    assert.equal((expired.data.issue as { id: string }).id, issue.id);
    await http().post(`/api/known-issues/${issue.id}/close`).expect(200);
    assert.deepEqual(
      (await http().get('/api/known-issues').expect(200)).body,
      [],
      'closed ones only with ?all',
    );
    assert.equal((await http().get('/api/known-issues?all=true').expect(200)).body[0].state, 'closed');
  });

  it('shows an issue as possibly fixed once its scope has run without a match', async () => {
    const issue = (
      await http()
        .post('/api/known-issues')
        .send({
          title: 'ESP flaky',
          owner: 'qa',
          reason: 'r',
          match: { clauses: ['IMG-ESP'] },
          fixedAfter: 2,
        })
        .expect(201)
    ).body;
    assert.deepEqual([issue.possiblyFixed, issue.lastMatchAt], [true, null], 'many runs, never a match');
    const patched = (
      await http().patch(`/api/known-issues/${issue.id}`).send({ fixedAfter: 100 }).expect(200)
    ).body;
    assert.deepEqual([patched.possiblyFixed, patched.version], [false, 2]);
  });

  it('mails a tenant’s regression through the SMTP server', async () => {
    const vendor = (
      await http().post('/api/tokens').send({ name: 'acme-ci', role: 'vendor', tenant: 'acme' }).expect(201)
    ).body.token as string;
    const acme = authed(app.getHttpServer(), vendor);
    await acme
      .put('/api/images?arch=aarch64&name=acme-os&tags=acme')
      .set('content-type', 'application/octet-stream')
      .send(Buffer.alloc(1024, 9))
      .expect(201);
    const sid = (
      await acme
        .post('/api/schedules')
        .send({
          name: 'acme',
          cron: '0 3 * * *',
          images: { tags: ['acme'] },
          targets: ['static'],
          suites: ['static'],
        })
        .expect(201)
    ).body.id;
    await acme.put(`/api/policies/schedules/${sid}`).send({ retries: 0 }).expect(200);
    await acme.put('/api/policies/farm').send({ retries: 0 }).expect(403);
    await acme.put('/api/policies/tenants/globex').send({ retries: 0 }).expect(403);
    // The scripted agent acts with an admin token (agents' routes are not a vendor's).
    await settle(
      http(),
      (await acme.post(`/api/schedules/${sid}/run`).expect(201)).body,
      all({ 'IMG-GPT': 'PASS' }),
    );
    const { matrix } = await settle(
      http(),
      (await acme.post(`/api/schedules/${sid}/run`).expect(201)).body,
      all({ 'IMG-GPT': 'FAIL' }),
    );
    assert.equal(matrix.cells.length, 1, 'retries 0: not re-run');
    const mail = await eventually(async () => mails.find((m) => m.data.includes(matrix.id)));
    assert.deepEqual(mail.to, ['qa@acme.test']);
    assert.match(mail.data, /Subject: \[vmfarm\] regression in matrix/);
    assert.match(mail.data, /IMG-GPT/);
    // The vendor sees its tenant's hook, not the admin's.
    assert.equal(((await acme.get('/api/hooks').expect(200)).body as unknown[]).length, 1);
  });
});
