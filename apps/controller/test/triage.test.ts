import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyScope } from '@vmfarm/protocol';
import { globMatch, globToLike } from '../src/triage/glob';
import {
  issueState,
  KnownIssueMatcher,
  messagePatternProblem,
  recentMatches,
  type KnownIssue,
  type VerdictContext,
} from '../src/triage/known-issues';
import { KnownIssuesService } from '../src/triage/known-issues.service';
import {
  expiredMatrices,
  removableImages,
  retentionFor,
  retriesFor,
  type PolicyRow,
} from '../src/triage/retention';
import { flakyCells, retryDepth, runsToRetry, type SettlementRun } from '../src/triage/settlement';
import { backoffMs, sign, verify } from '../src/triage/signature';

const NOW = new Date('2026-06-01T00:00:00.000Z');

function issue(over: Partial<KnownIssue> = {}): KnownIssue {
  return {
    id: 'ki-1',
    title: 'GICv2 missing on this host',
    owner: 'release team',
    link: null,
    reason: 'host kernel lacks vGICv2',
    expiresAt: null,
    match: { clauses: ['PLAT-GIC'] },
    fixedAfter: 3,
    tenant: null,
    version: 1,
    createdBy: 'admin',
    createdAt: '2026-05-01T00:00:00.000Z',
    updatedAt: '2026-05-01T00:00:00.000Z',
    closedAt: null,
    ...over,
  };
}

function verdict(over: Partial<VerdictContext> = {}): VerdictContext {
  return {
    clause: 'PLAT-GIC',
    verdict: 'FAIL',
    message: 'GICv2: the guest saw no GIC',
    targetId: 'qemu-aarch64-kvm',
    imageName: 'debian',
    imageVersion: '13.1',
    imageTags: ['nightly', 'testing'],
    matrixOwner: null,
    ...over,
  };
}

describe('globs', () => {
  it('matches * and ? over the whole string, case-sensitively, without backtracking blow-up', () => {
    assert.ok(globMatch('VBSA:V_L1GI_*', 'VBSA:V_L1GI_01'));
    assert.ok(globMatch('IMG-*', 'IMG-GPT'));
    assert.ok(globMatch('qemu-*-kvm', 'qemu-aarch64-kvm'));
    assert.ok(globMatch('1?.?', '13.1'));
    assert.ok(!globMatch('IMG-*', 'img-gpt'));
    assert.ok(!globMatch('IMG', 'IMG-GPT'), 'whole string');
    assert.ok(globMatch('*', ''));
    assert.ok(!globMatch(`${'*a'.repeat(30)}b`, 'a'.repeat(200)), 'a pathological pattern ends');
    assert.equal(globToLike('V_L1*%?'), 'V\\_L1%\\%_');
  });
});

describe('known issues', () => {
  it('explains a FAIL when every part of its match holds, never a PASS or ERROR', () => {
    const m = new KnownIssueMatcher(
      [
        issue({
          match: {
            clauses: ['PLAT-GIC', 'VBSA:V_L1GI_*'],
            target: 'qemu-*',
            imageName: 'deb*',
            imageVersion: '13.*',
            imageTag: 'night*',
            message: 'GICv[23]',
          },
        }),
      ],
      NOW,
    );
    assert.deepEqual(m.explain(verdict()), [{ id: 'ki-1', title: 'GICv2 missing on this host' }]);
    assert.equal(m.explain(verdict({ clause: 'VBSA:V_L1GI_02' })).length, 1, 'payload rule IDs match too');
    assert.equal(m.explain(verdict({ verdict: 'PASS' })).length, 0);
    assert.equal(m.explain(verdict({ verdict: 'ERROR' })).length, 0, 'ERROR is never the subject: no waiver');
    assert.equal(m.explain(verdict({ targetId: 'xen' })).length, 0);
    assert.equal(m.explain(verdict({ imageName: 'fedora' })).length, 0);
    assert.equal(m.explain(verdict({ imageVersion: null })).length, 0);
    assert.equal(m.explain(verdict({ imageTags: ['stable'] })).length, 0);
    assert.equal(m.explain(verdict({ message: 'timer stopped' })).length, 0);
  });

  it('stops matching when expired or closed, and explains only its own tenant’s matrices', () => {
    const expired = issue({ expiresAt: '2026-05-31T23:59:59.000Z' });
    assert.equal(issueState(expired, NOW), 'expired');
    assert.equal(issueState(issue({ expiresAt: '2026-06-02T00:00:00.000Z' }), NOW), 'active');
    assert.equal(issueState(issue({ closedAt: '2026-05-02T00:00:00.000Z' }), NOW), 'closed');
    assert.equal(new KnownIssueMatcher([expired], NOW).explain(verdict()).length, 0);
    assert.equal(new KnownIssueMatcher([expired], NOW, true).explain(verdict()).length, 1);
    const acme = new KnownIssueMatcher([issue({ tenant: 'acme' })], NOW);
    assert.equal(acme.explain(verdict({ matrixOwner: 'acme' })).length, 1);
    assert.equal(acme.explain(verdict({ matrixOwner: 'globex' })).length, 0);
    assert.equal(acme.explain(verdict({ matrixOwner: null })).length, 0, 'nor a public matrix');
    const pub = new KnownIssueMatcher([issue()], NOW);
    assert.equal(pub.explain(verdict({ matrixOwner: 'globex' })).length, 1, 'a public issue explains all');
  });

  it('takes RE2 message patterns only: linear time, no backreferences or lookaround', () => {
    assert.equal(messagePatternProblem('GICv[23] .*timeout'), undefined);
    assert.match(messagePatternProblem('(a)\\1') ?? '', /invalid/);
    assert.match(messagePatternProblem('(?<=a)b') ?? '', /invalid/);
    const m = new KnownIssueMatcher([issue({ match: { clauses: ['*'], message: '(a+)+$' } })], NOW);
    assert.equal(
      m.explain(verdict({ message: `${'a'.repeat(10_000)}!` })).length,
      0,
      'no catastrophic backtracking',
    );
  });

  it('is possibly fixed after fixedAfter runs in its scope without a match', () => {
    const runs = (...m: boolean[]) => m.map((matched, i) => ({ runId: `r${i}`, at: `t${i}`, matched }));
    assert.deepEqual(recentMatches(3, runs(false, false, true, true)), {
      lastMatchAt: 't2',
      lastMatchRunId: 'r2',
      runsSinceMatch: 2,
      possiblyFixed: false,
    });
    assert.equal(recentMatches(3, runs(false, false, false, true)).possiblyFixed, true);
    assert.equal(recentMatches(3, runs(false, false)).possiblyFixed, false, 'not enough runs yet');
  });

  it('splits a run’s FAILs into known (every FAIL of the clause explained) and unexplained', () => {
    const v = (clause: string, verdict: 'PASS' | 'FAIL') => ({
      suite: 'vbsa',
      clause,
      level: 'SHOULD' as const,
      verdict,
      message: '',
      evidence: {},
    });
    const ki = { id: 'ki-1', title: 't' };
    const out = KnownIssuesService.split(
      [v('A', 'FAIL'), v('A', 'FAIL'), v('B', 'FAIL'), v('B', 'FAIL'), v('C', 'PASS')],
      [[ki], [ki], [ki], []],
    );
    assert.deepEqual(out, { known: [{ clause: 'A', issues: [ki] }], unexplained: ['B'] });
  });
});

describe('retry before regression', () => {
  const run = (id: string, over: Partial<SettlementRun> = {}): SettlementRun => ({
    id,
    retryOf: null,
    verdict: 'PASS',
    imageName: 'debian',
    targetId: 'static',
    suite: 'static',
    ...over,
  });
  const change = (runId: string) => ({
    imageName: 'debian',
    targetId: 'static',
    clause: 'IMG-GPT',
    before: 'PASS' as const,
    after: 'FAIL' as const,
    runId,
    previousRunId: 'p',
  });

  it('re-runs PASS → FAIL and PASS → ERROR cells while retries remain', () => {
    const runs = [
      run('a', { verdict: 'FAIL' }),
      run('b', { verdict: 'ERROR' }),
      run('c', { verdict: 'FAIL', retryOf: 'a' }),
    ];
    const byId = new Map(runs.map((r) => [r.id, r]));
    assert.deepEqual([retryDepth('a', byId), retryDepth('c', byId)], [0, 1]);
    assert.deepEqual(runsToRetry({ regressions: [change('a')], errors: [change('b')] }, runs, 1), ['a', 'b']);
    assert.deepEqual(
      runsToRetry({ regressions: [change('c')], errors: [] }, runs, 1),
      [],
      'retried once already',
    );
    assert.deepEqual(runsToRetry({ regressions: [change('c')], errors: [] }, runs, 2), ['c']);
    assert.deepEqual(runsToRetry({ regressions: [change('a')], errors: [] }, runs, 0), [], 'retries off');
  });

  it('calls a retry that passed flaky, naming the run it re-ran', () => {
    const runs = [
      run('a', { verdict: 'FAIL' }),
      run('b', { verdict: 'PASS', retryOf: 'a' }),
      run('c', { verdict: 'ERROR', suite: 'boot' }),
      run('d', { verdict: 'ERROR', retryOf: 'c', suite: 'boot' }),
    ];
    assert.deepEqual(flakyCells(runs), [
      {
        imageName: 'debian',
        targetId: 'static',
        suite: 'static',
        before: 'FAIL',
        retriedRunId: 'a',
        runId: 'b',
      },
    ]);
  });
});

describe('policies and retention', () => {
  const policy = (scope: PolicyScope, over: Partial<PolicyRow> = {}): PolicyRow => ({
    scope,
    retries: null,
    keepDays: null,
    keepMatrices: null,
    updatedAt: 't',
    ...over,
  });
  const policies = [
    policy({ kind: 'farm' }, { keepDays: 30, retries: 2 }),
    policy({ kind: 'tenant', tenant: 'acme' }, { keepMatrices: 2 }),
    policy({ kind: 'schedule', scheduleId: 's1' }, { retries: 0 }),
  ];

  it('takes the most specific scope that says anything about retention; retries on their own', () => {
    assert.deepEqual(retentionFor(policies, 's1', 'acme'), {
      keepDays: null,
      keepMatrices: 2,
      label: 'tenant acme',
    });
    assert.deepEqual(retentionFor(policies, 's2', null), { keepDays: 30, keepMatrices: null, label: 'farm' });
    assert.equal(retentionFor([], 's1', null), null);
    assert.deepEqual(
      [retriesFor(policies, 's1', 'acme'), retriesFor(policies, 's2', 'acme'), retriesFor([], null, null)],
      [0, 2, 1],
    );
  });

  it('expires matrices past both rules, per series, never one still running', () => {
    const m = (id: string, days: number, scheduleId: string | null, owner: string | null, done = true) => ({
      id,
      createdAt: new Date(NOW.getTime() - days * 86_400_000).toISOString(),
      owner,
      scheduleId,
      done,
    });
    const expired = expiredMatrices(
      [
        m('a1', 1, 'sa', 'acme'),
        m('a2', 2, 'sa', 'acme'),
        m('a3', 3, 'sa', 'acme'),
        m('a4', 4, 'sa', 'acme', false),
        m('f1', 29, null, null),
        m('f2', 31, null, null),
        m('g1', 400, null, 'globex'),
      ],
      policies,
      NOW,
    );
    assert.deepEqual([...expired.keys()].sort(), ['a3', 'f2', 'g1']);
    assert.equal(expired.get('a3'), 'tenant acme: not among the newest 2');
    assert.equal(expired.get('f2'), 'farm: older than 30 days');
  });

  it('lets image bytes go only when nothing keeps them', () => {
    const img = (
      sha256: string,
      days: number,
      usedBy: string[],
      pinned = false,
      owner: string | null = null,
    ) => ({
      sha256,
      owner,
      createdAt: new Date(NOW.getTime() - days * 86_400_000).toISOString(),
      usedBy,
      pinned,
    });
    const expired = new Map([['old', 'farm: older than 30 days']]);
    const out = removableImages(
      [
        img('gone', 40, ['old']),
        img('kept-by-matrix', 40, ['old', 'new']),
        img('pinned', 40, ['old'], true),
        img('young', 10, ['old']),
        img('unused-old', 40, []),
        img('unused-young', 10, []),
      ],
      expired,
      policies,
      NOW,
    );
    assert.deepEqual([...out.keys()].sort(), ['gone', 'unused-old']);
  });
});

describe('webhook signatures', () => {
  it('signs the exact body with HMAC-SHA256 and verifies in constant time', () => {
    const body = '{"event":"regression"}';
    const sig = sign('s3cret-s3cret-s3cret', body);
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.ok(verify('s3cret-s3cret-s3cret', body, sig));
    assert.ok(!verify('s3cret-s3cret-s3cret', `${body} `, sig));
    assert.ok(!verify('another-secret-here!', body, sig));
    assert.ok(!verify('s3cret-s3cret-s3cret', body, undefined));
    assert.deepEqual(
      [1, 2, 3, 10].map((n) => backoffMs(n, 100, 1000)),
      [100, 200, 400, 1000],
    );
  });
});
