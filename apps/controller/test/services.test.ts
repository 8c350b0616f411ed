import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  MAX_ATTEMPTS,
  targetProfileSchema,
  type AttemptResult,
  type ImageResource,
  type SuiteInfo,
  type TargetProfile,
  type VerdictRecord,
} from '@vmfarm/protocol';
import { AgentsService } from '../src/agents/agents.service';
import { Caller } from '../src/auth/caller';
import { resolveConfig } from '../src/config';
import type { AgentsRepository, AgentRow } from '../src/store/agents.repository';
import { classify } from '../src/images/images.service';
import { planMatrix } from '../src/matrices/plan';
import { outcomeOf, nextState } from '../src/runs/outcome';
import { ReconcileService } from '../src/runs/reconcile.service';
import { RunCompletion } from '../src/triage/completion';
import { RunsService } from '../src/runs/runs.service';
import { catalogOf, registryCatalog, type SuiteCatalog } from '../src/suites';
import { resolveProfile } from '../src/targets/targets.service';
import { ApiHttpError } from '../src/errors';
import { FakeImages, FakeQueue, FakeRunsRepository, nullArtifacts, nullEvents } from './helpers/fakes';

const SUITE: SuiteInfo = {
  id: 'static',
  title: 'Static',
  subject: 'image',
  clauses: ['IMG-GPT', 'IMG-FW-NOT-BUNDLED'],
  targetKinds: ['static'],
};
const catalog: SuiteCatalog = {
  list: () => [SUITE],
  get: (id) => (id === 'static' ? SUITE : undefined),
  refusal: () => undefined,
  typicalSeconds: () => 0,
};

const v = (
  verdict: VerdictRecord['verdict'],
  level: VerdictRecord['level'] = 'MUST',
  clause = 'IMG-GPT',
): VerdictRecord => ({
  suite: 'static',
  clause,
  level,
  verdict,
  message: verdict,
  evidence: {},
});
const result = (verdicts: VerdictRecord[], over: Partial<AttemptResult> = {}): AttemptResult => ({
  agentId: 'agent',
  verdicts,
  durationMs: 5,
  artifacts: [],
  ...over,
});

function setup() {
  const repo = new FakeRunsRepository();
  const service = new RunsService(
    repo.asRepository(),
    catalog,
    nullArtifacts,
    new FakeImages().asRepository(),
    nullEvents,
    new RunCompletion(),
  );
  return { repo, service };
}

describe('attempt outcome', () => {
  it('FAIL only for a MUST failure, ERROR for the farm, SKIP when everything skipped', () => {
    assert.equal(outcomeOf(result([v('PASS'), v('FAIL', 'SHOULD')])), 'PASS');
    assert.equal(outcomeOf(result([v('PASS'), v('FAIL')])), 'FAIL');
    assert.equal(outcomeOf(result([v('FAIL'), v('ERROR')])), 'FAIL');
    assert.equal(outcomeOf(result([v('PASS'), v('ERROR')])), 'ERROR');
    assert.equal(outcomeOf(result([v('PASS')], { error: 'host broke' })), 'ERROR');
    assert.equal(outcomeOf(result([])), 'ERROR');
    assert.equal(outcomeOf(result([v('SKIP'), v('SKIP')])), 'SKIP');
  });

  it('retries only ERROR, and only while attempts remain', () => {
    assert.deepEqual(nextState('ERROR', 1), { state: 'retrying', retry: true });
    assert.deepEqual(nextState('ERROR', MAX_ATTEMPTS), { state: 'done', retry: false });
    for (const o of ['PASS', 'FAIL', 'SKIP'] as const)
      assert.deepEqual(nextState(o, 1), { state: 'done', retry: false });
  });
});

describe('RunsService', () => {
  const refused = (status: number, pattern: RegExp) => (e: ApiHttpError) =>
    e.status === status && pattern.test(e.message);

  it('records a result once: the same attempt reported twice is refused, nothing changes', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    assert.deepEqual(await service.startAttempt('r', 1, 'agent'), { proceed: true, state: 'running' });
    assert.deepEqual(await service.recordResult('r', 1, result([v('PASS')])), {
      recorded: true,
      retry: false,
    });
    await assert.rejects(service.recordResult('r', 1, result([v('FAIL')])), refused(409, /already finished/));
    assert.equal(repo.records.length, 1);
    assert.equal((await repo.get('r'))?.verdict, 'PASS');
  });

  it('takes results only from the agent holding a started attempt', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    await assert.rejects(service.recordResult('r', 1, result([v('PASS')])), refused(409, /never started/));
    await service.startAttempt('r', 1, 'agent');
    await assert.rejects(
      service.recordResult('r', 1, result([v('PASS')], { agentId: 'intruder' })),
      refused(403, /held by agent agent, not intruder/),
    );
    await assert.rejects(
      service.recordResult('r', 2, result([v('PASS')])),
      refused(409, /attempt 2 of run r was never started \(started: 1\)/),
    );
    await assert.rejects(service.startAttempt('r', 1, 'intruder'), refused(409, /held by agent agent/));
    assert.equal(repo.records.length, 0);
    assert.equal((await repo.get('r'))?.state, 'running');
  });

  it('an ERROR with attempts left makes the run retrying; the next attempt decides', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    await service.startAttempt('r', 1, 'agent');
    assert.deepEqual(await service.recordResult('r', 1, result([v('ERROR')], { error: 'x' })), {
      recorded: true,
      retry: true,
    });
    assert.equal((await repo.get('r'))?.state, 'retrying');
    await assert.rejects(
      service.recordResult('r', 1, result([v('ERROR')], { error: 'x' })),
      refused(409, /already finished/),
    );
    await service.startAttempt('r', 2, 'agent');
    // Attempt 1 is over: starting it again runs nothing.
    assert.deepEqual(await service.startAttempt('r', 1, 'agent'), { proceed: false, state: 'running' });
    assert.deepEqual(await service.recordResult('r', 2, result([v('PASS')])), {
      recorded: true,
      retry: false,
    });
    const run = await repo.get('r');
    assert.deepEqual([run?.state, run?.verdict, run?.finalAttempt], ['done', 'PASS', 2]);
  });

  it('the last attempt ending in ERROR ends the run as ERROR', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    await service.startAttempt('r', MAX_ATTEMPTS, 'agent');
    assert.deepEqual(await service.recordResult('r', MAX_ATTEMPTS, result([v('ERROR')])), {
      recorded: true,
      retry: false,
    });
    assert.equal((await repo.get('r'))?.verdict, 'ERROR');
  });

  it('records the architecture the suite detected for an image uploaded without one', async () => {
    const repo = new FakeRunsRepository();
    const images = new FakeImages();
    const service = new RunsService(
      repo.asRepository(),
      catalog,
      nullArtifacts,
      images.asRepository(),
      nullEvents,
      new RunCompletion(),
    );
    repo.addRun('r');
    await service.startAttempt('r', 1, 'agent');
    await service.recordResult('r', 1, result([v('PASS')], { image: { format: 'raw', arch: 'aarch32' } }));
    assert.equal(images.detected.get('a'.repeat(64)), 'aarch32');
  });

  it('a result for a run already done is refused, and a new attempt is told not to proceed', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    await service.startAttempt('r', 1, 'agent');
    repo.addRun('queued');
    const cancelled = await service.cancelRuns(
      [(await repo.get('r'))!, (await repo.get('queued'))!],
      'cancelled by test',
      't',
    );
    assert.deepEqual([...cancelled].sort(), ['queued', 'r']);
    await assert.rejects(
      service.recordResult('r', 1, result([v('PASS')])),
      refused(409, /already finished \(cancelled\)/),
    );
    assert.deepEqual(await service.startAttempt('r', 2, 'agent'), { proceed: false, state: 'done' });
    assert.deepEqual(
      repo.records.map((r) => [
        r.runId,
        r.attempt,
        r.agentId,
        r.outcome,
        r.runVerdict,
        r.verdicts[0].message,
      ]),
      [
        ['r', 1, 'agent', 'cancelled', 'SKIP', 'cancelled by test'],
        ['queued', 1, null, 'cancelled', 'SKIP', 'cancelled by test'],
      ],
    );
    // Done already: left as it is.
    assert.equal((await service.cancelRuns([(await repo.get('r'))!], 'again', 't')).size, 0);
  });

  it('an attempt without verdicts gets ERROR for every clause of its suite', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    await service.startAttempt('r', 1, 'agent');
    await service.recordResult('r', 1, result([], { error: 'image download failed' }));
    assert.deepEqual(
      repo.records[0].verdicts.map((x) => [x.clause, x.level, x.verdict, x.message]),
      [
        ['IMG-GPT', 'MUST', 'ERROR', 'image download failed'],
        ['IMG-FW-NOT-BUNDLED', 'SHOULD', 'ERROR', 'image download failed'],
      ],
    );
  });

  it('a queue failure ends an unfinished run as ERROR on its open attempt, once', async () => {
    const { repo, service } = setup();
    repo.addRun('r');
    await service.startAttempt('r', 1, 'agent');
    assert.equal(await service.recordQueueFailure('r', 'job stalled more than allowable limit'), true);
    assert.equal(await service.recordQueueFailure('r', 'again'), false);
    assert.deepEqual(
      (await repo.attempts('r')).map((a) => [a.attempt, a.outcome]),
      [[1, 'ERROR']],
    );
    assert.match(repo.records[0].verdicts[0].message, /stalled more than allowable limit/);
    assert.equal((await repo.get('r'))?.verdict, 'ERROR');
  });

  it("unknown runs, and runs of another tenant's matrix, are 404", async () => {
    const { service, repo } = setup();
    await assert.rejects(service.view('nope', Caller.system()), (e: ApiHttpError) => e.status === 404);
    repo.addRun('theirs', { matrixId: 'm-b', job: { target: { kind: 'static' } } as never });
    repo.matrixOwners.set('m-b', 'vendor-b');
    const vendor = (tenant: string) => new Caller({ id: tenant, name: tenant, role: 'vendor', tenant });
    await assert.rejects(service.view('theirs', vendor('vendor-a')), (e: ApiHttpError) => e.status === 404);
    await assert.rejects(
      service.artifact('theirs', 1, 'serial.log', vendor('vendor-a')),
      (e: ApiHttpError) => e.status === 404,
    );
    assert.equal((await service.view('theirs', vendor('vendor-b'))).id, 'theirs');
  });
});

describe('reconciliation', () => {
  it('re-adds runs whose job is missing and ends runs whose job failed', async () => {
    const repo = new FakeRunsRepository();
    const queue = new FakeQueue();
    const service = new RunsService(
      repo.asRepository(),
      catalog,
      nullArtifacts,
      new FakeImages().asRepository(),
      nullEvents,
      new RunCompletion(),
    );
    const reconcile = new ReconcileService(repo.asRepository(), service, queue);
    repo.addRun('lost', { job: { runId: 'lost' } as never });
    repo.addRun('waiting', { job: { runId: 'waiting' } as never });
    repo.addRun('failed', { state: 'retrying' });
    repo.addRun('finished', { state: 'done' });
    queue.states.set('waiting', { state: 'waiting' });
    queue.states.set('failed', { state: 'failed', failedReason: 'attempts exhausted' });
    assert.deepEqual(await reconcile.reconcile(), { requeued: 1, failed: 1 });
    assert.deepEqual(
      queue.added.map((j) => j.runId),
      ['lost'],
    );
    assert.equal((await repo.get('failed'))?.verdict, 'ERROR');
  });
});

describe('matrix planning', () => {
  const img = (sha: string, arch: ImageResource['arch']): ImageResource => ({
    sha256: sha,
    size: 512,
    format: 'raw',
    arch,
    archDeclared: arch !== null,
    name: sha,
    version: null,
    tags: [],
    owner: null,
    uploadedAs: 'raw',
    createdAt: 't',
  });
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  const images = new Map([
    [A, img(A, 'aarch64')],
    [B, img(B, 'aarch32')],
  ]);
  const targets = new Map<string, TargetProfile>([
    ['static', { id: 'static', kind: 'static', description: '', arch: ['aarch64', 'aarch32'] }],
    ['only64', { id: 'only64', kind: 'static', description: '', arch: ['aarch64'] }],
  ]);
  const vmSuite: SuiteInfo = { ...SUITE, id: 'boot', subject: 'vm', targetKinds: [] };

  it('expands images × targets × suites, with all = every suite the target kind runs', () => {
    const { cells, errors } = planMatrix(
      { images: [A, B], targets: ['static'], suites: ['all'] },
      images,
      targets,
      [SUITE, vmSuite],
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(
      cells.map((c) => [c.image.sha256, c.target.id, c.suite]),
      [
        [A, 'static', 'static'],
        [B, 'static', 'static'],
      ],
    );
  });

  it('lists every problem at once', () => {
    const C = 'c'.repeat(64);
    const { cells, errors } = planMatrix(
      { images: [A, B, C], targets: ['only64', 'nope'], suites: ['static', 'boot', 'ghost'] },
      images,
      targets,
      [SUITE, vmSuite],
    );
    assert.deepEqual(cells, []);
    assert.deepEqual(
      errors.map((e) => e.path),
      ['images.2', 'targets.1', 'suites.1', 'suites.2'],
    );
    assert.match(errors[2].message, /suite boot cannot run on target only64/);
  });

  it('plans a pair of an image and a target of another architecture as SKIP cells with the reason', () => {
    const { cells, errors } = planMatrix(
      { images: [A, B], targets: ['only64', 'static'], suites: ['static'] },
      images,
      targets,
      [SUITE],
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(
      cells.map((c) => [c.image.sha256, c.target.id, c.skip ?? null]),
      [
        [A, 'only64', null],
        [A, 'static', null],
        [B, 'only64', `image ${B.slice(0, 12)} is aarch32 but target only64 offers aarch64`],
        [B, 'static', null],
      ],
    );
  });

  const QEMU_TCG = targetProfileSchema.parse(
    JSON.parse(
      readFileSync(path.resolve(__dirname, '../../../../deploy/targets/qemu-aarch64-tcg.json'), 'utf8'),
    ),
  );

  it("refuses a suite's impossible boot with the suite's reason: GICv2 with more than 8 vCPUs", () => {
    const catalog = registryCatalog();
    const big = { ...QEMU_TCG, id: 'big', smp: 16 };
    const small = { ...QEMU_TCG, id: 'small', smp: 8 };
    const many = new Map<string, TargetProfile>([
      ['big', big],
      ['small', small],
    ]);
    const plan = (suites: string[], ids: string[]) =>
      planMatrix({ images: [A], targets: ids, suites }, images, many, catalog.list(), (id, t) =>
        catalog.refusal(id, t),
      );
    const refused = plan(['boot', 'gic'], ['small', 'big']);
    assert.deepEqual(refused.cells, []);
    assert.deepEqual(
      refused.errors.map((e) => e.path),
      ['targets.1'],
    );
    assert.match(refused.errors[0].message, /GICv2, which serves at most 8 vCPUs; the profile has 16/);
    assert.equal(plan(['all'], ['big']).errors.length, 1, "'all' includes the gic suite");
    assert.equal(plan(['boot', 'gic'], ['small']).cells.length, 2);
    assert.equal(plan(['boot'], ['big']).cells.length, 1);
  });

  it('the catalog of the real registry knows the static suite', () => {
    assert.ok(registryCatalog().get('static')?.targetKinds.includes('static'));
    assert.equal(catalogOf([]).list().length, 0);
  });
});

describe('target profiles and uploads', () => {
  const base: TargetProfile = {
    id: 'static',
    kind: 'static',
    description: 'base',
    arch: ['aarch64', 'aarch32'],
  };

  it('a profile inherits what it does not give from its base', () => {
    assert.deepEqual(resolveProfile({ id: 'mine', extends: 'static', arch: ['aarch64'] }, base), {
      id: 'mine',
      kind: 'static',
      description: 'base',
      extends: 'static',
      arch: ['aarch64'],
    });
  });

  it('an unknown base or a missing kind is a 400 naming the field', () => {
    assert.throws(
      () => resolveProfile({ id: 'mine', extends: 'ghost' }, undefined),
      (e: ApiHttpError) => e.status === 400 && e.errors[0].path === 'extends',
    );
    assert.throws(
      () => resolveProfile({ id: 'mine' }, undefined),
      (e: ApiHttpError) => e.status === 400 && e.errors[0].path === 'kind',
    );
  });

  it('classifies uploads: qcow2 by magic, raw by whole sectors, nothing else', () => {
    assert.equal(classify({ size: 1000, head: Buffer.from('QFI\xfb\x00\x00\x00\x03', 'latin1') }), 'qcow2');
    assert.equal(classify({ size: 1024, head: Buffer.alloc(8) }), 'raw');
    assert.throws(() => classify({ size: 0, head: Buffer.alloc(0) }), /empty body/);
    assert.throws(() => classify({ size: 100, head: Buffer.from('hello') }), /not a disk image/);
  });
});

describe('agents', () => {
  it('shows an agent offline once it missed three heartbeats', async () => {
    const row: AgentRow = {
      id: 'a',
      name: 'a',
      host: 'h',
      version: '1',
      capabilities: { targetKinds: ['static'], probes: {}, concurrency: 1 },
      registeredAt: '2026-01-01T00:00:00.000Z',
      lastHeartbeat: '2026-01-01T00:00:00.000Z',
      tokenId: 't',
    };
    const repo = { list: async () => [row] } as unknown as AgentsRepository;
    const service = new AgentsService(
      repo,
      new FakeRunsRepository().asRepository(),
      resolveConfig({ redisUrl: 'redis://x', dataDir: '/tmp', heartbeatSeconds: 5 }),
    );
    const at = (s: number) => Date.parse(row.lastHeartbeat) + s * 1000;
    const page = { limit: 50, offset: 0 };
    assert.equal((await service.list(page, at(15)))[0].online, true);
    assert.equal((await service.list(page, at(16)))[0].online, false);
  });
});
