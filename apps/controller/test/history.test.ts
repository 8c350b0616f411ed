import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLAUSES, type ImageResource, type Verdict } from '@vmfarm/protocol';
import { matrixEvent, sseFrame } from '../src/events/frames';
import {
  certify,
  compareMatrices,
  historySeries,
  newestPerName,
  trend,
  worst,
} from '../src/history/analysis';
import { cronErrors, nextFire, shortestGapSeconds } from '../src/schedules/scheduler';
import type { ClauseVerdictRow } from '../src/store/history.repository';

let seq = 0;
function row(over: Partial<ClauseVerdictRow> & { verdict: Verdict }): ClauseVerdictRow {
  seq++;
  return {
    matrixId: 'm1',
    matrixAt: '2026-01-01T00:00:00.000Z',
    matrixOwner: null,
    scheduleId: null,
    runId: `r${seq}`,
    at: `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`,
    imageSha256: 'a'.repeat(64),
    imageName: 'debian',
    imageVersion: '1',
    targetId: 'static',
    suite: 'static',
    clause: 'IMG-GPT',
    level: 'MUST',
    message: 'm',
    evidence: {},
    ...over,
  };
}

describe('history series', () => {
  it('finds the start of the latest failing streak, the last pass and the fix', () => {
    const verdicts: Verdict[] = ['PASS', 'FAIL', 'ERROR', 'FAIL', 'PASS', 'SKIP'];
    const rows = verdicts.map((verdict, i) =>
      row({ verdict, runId: `run${i}`, at: `2026-01-0${i + 1}T00:00:00.000Z` }),
    );
    const [s] = historySeries(rows.reverse());
    assert.deepEqual(
      s.points.map((p) => p.verdict),
      verdicts,
      'oldest first, whatever order the rows came in',
    );
    assert.equal(s.firstFailure, '2026-01-02T00:00:00.000Z', 'an ERROR neither breaks nor starts a streak');
    assert.equal(s.lastPass, '2026-01-05T00:00:00.000Z');
    assert.equal(s.fixedAt, '2026-01-05T00:00:00.000Z');
  });

  it('has no fix while still failing, and keys series by image name, target and clause', () => {
    const series = historySeries([
      row({ verdict: 'PASS', at: '2026-01-01T00:00:00.000Z' }),
      row({
        verdict: 'FAIL',
        at: '2026-01-02T00:00:00.000Z',
        imageVersion: '2',
        imageSha256: 'b'.repeat(64),
      }),
      row({ verdict: 'PASS', clause: 'IMG-ESP' }),
      row({ verdict: 'PASS', targetId: 'other' }),
    ]);
    assert.deepEqual(
      series.map((s) => [s.targetId, s.clause, s.points.length, s.firstFailure, s.fixedAt]),
      [
        ['other', 'IMG-GPT', 1, null, null],
        ['static', 'IMG-ESP', 1, null, null],
        ['static', 'IMG-GPT', 2, '2026-01-02T00:00:00.000Z', null],
      ],
    );
    assert.deepEqual(
      series[2].points.map((p) => p.imageVersion),
      ['1', '2'],
      'successive versions on one line',
    );
  });

  it('counts a clause a run judged twice once, by its worst verdict', () => {
    const [s] = historySeries([row({ verdict: 'PASS', runId: 'x' }), row({ verdict: 'FAIL', runId: 'x' })]);
    assert.deepEqual(
      s.points.map((p) => p.verdict),
      ['FAIL'],
    );
    assert.equal(worst('SKIP', 'PASS'), 'PASS');
    assert.equal(worst('ERROR', 'FAIL'), 'FAIL');
  });
});

describe('trend', () => {
  it('counts clause verdicts per matrix with a pass rate over judged ones', () => {
    const points = trend([
      row({ verdict: 'PASS', matrixId: 'b', matrixAt: '2026-01-02T00:00:00.000Z' }),
      row({ verdict: 'PASS', matrixId: 'a', matrixAt: '2026-01-01T00:00:00.000Z' }),
      row({ verdict: 'FAIL', matrixId: 'a', matrixAt: '2026-01-01T00:00:00.000Z' }),
      row({ verdict: 'SKIP', matrixId: 'a', matrixAt: '2026-01-01T00:00:00.000Z' }),
      row({ verdict: 'SKIP', matrixId: 'c', matrixAt: '2026-01-03T00:00:00.000Z' }),
    ]);
    assert.deepEqual(
      points.map((p) => [p.matrixId, p.pass, p.fail, p.error, p.skip, p.passRate]),
      [
        ['a', 1, 1, 0, 1, 0.5],
        ['b', 1, 0, 0, 0, 1],
        ['c', 0, 0, 0, 1, null],
      ],
    );
  });
});

describe('regressions', () => {
  const at = '2026-01-01T00:00:00.000Z';
  it('lines successive versions up by image name: PASS → FAIL regresses, FAIL → PASS fixes', () => {
    const previous = [
      row({ verdict: 'PASS', clause: 'IMG-GPT', imageSha256: '1'.repeat(64), runId: 'p1' }),
      row({ verdict: 'FAIL', clause: 'IMG-ESP', imageSha256: '1'.repeat(64), runId: 'p1' }),
      row({ verdict: 'PASS', clause: 'IMG-EFI-APP', runId: 'p1' }),
      row({ verdict: 'PASS', clause: 'IMG-NO-VARS', imageName: 'gone', runId: 'p2' }),
    ];
    const latest = [
      row({ verdict: 'FAIL', clause: 'IMG-GPT', imageSha256: '2'.repeat(64), runId: 'l1' }),
      row({ verdict: 'PASS', clause: 'IMG-ESP', imageSha256: '2'.repeat(64), runId: 'l1' }),
      row({ verdict: 'ERROR', clause: 'IMG-EFI-APP', runId: 'l1' }),
      row({ verdict: 'FAIL', clause: 'IMG-NO-VARS', imageName: 'new', runId: 'l2' }),
    ];
    const r = compareMatrices({ matrixId: 'L', at, rows: latest }, { matrixId: 'P', at, rows: previous });
    assert.deepEqual(r.latest, { matrixId: 'L', at });
    assert.deepEqual(r.regressions, [
      {
        imageName: 'debian',
        targetId: 'static',
        clause: 'IMG-GPT',
        before: 'PASS',
        after: 'FAIL',
        runId: 'l1',
        previousRunId: 'p1',
      },
    ]);
    assert.deepEqual(
      r.fixes.map((f) => [f.clause, f.before, f.after]),
      [['IMG-ESP', 'FAIL', 'PASS']],
    );
    assert.deepEqual(
      r.errors.map((f) => [f.clause, f.before, f.after]),
      [['IMG-EFI-APP', 'PASS', 'ERROR']],
      'PASS → ERROR is listed apart: the farm broke, not the image',
    );
    assert.deepEqual(r.known, []);
  });

  it('lists a PASS → FAIL a known issue explains as known, not as a regression', () => {
    const previous = [row({ verdict: 'PASS', clause: 'IMG-GPT', runId: 'p1' })];
    const latest = [
      row({ verdict: 'FAIL', clause: 'IMG-GPT', runId: 'l1' }),
      row({ verdict: 'FAIL', clause: 'IMG-ESP', runId: 'l1' }),
    ];
    const issue = { id: 'ki-1', title: 'GPT rewritten by the installer' };
    const r = compareMatrices(
      { matrixId: 'L', at, rows: latest },
      { matrixId: 'P', at, rows: previous },
      (x) => (x.clause === 'IMG-GPT' ? [issue] : []),
    );
    assert.deepEqual(r.regressions, []);
    assert.deepEqual(
      r.known.map((k) => [k.clause, k.before, k.after, k.issues]),
      [['IMG-GPT', 'PASS', 'FAIL', [issue]]],
    );
  });

  it('without a previous matrix there is nothing to compare', () => {
    const r = compareMatrices({ matrixId: 'L', at, rows: [row({ verdict: 'FAIL' })] }, null);
    assert.deepEqual(r, {
      latest: { matrixId: 'L', at },
      previous: null,
      regressions: [],
      fixes: [],
      known: [],
      errors: [],
      flaky: [],
    });
    assert.deepEqual(compareMatrices(null, null).latest, null);
  });
});

describe('certification', () => {
  it('lists every clause: latest verdict with evidence, NOT-RUN when covered, NOT-COVERED otherwise', () => {
    const judged = row({ verdict: 'FAIL', clause: 'IMG-EFI-APP', evidence: { machine: '0x0' }, runId: 'x' });
    const tie = row({ verdict: 'PASS', clause: 'IMG-EFI-APP', runId: 'y' });
    const out = certify(CLAUSES, new Set(['IMG-GPT', 'IMG-EFI-APP']), [tie, judged]);
    assert.deepEqual(
      out.map((c) => c.clause),
      CLAUSES.map((c) => c.id),
    );
    const by = new Map(out.map((c) => [c.clause, c]));
    assert.equal(by.get('IMG-EFI-APP')?.verdict, 'FAIL', 'worst of runs finishing together');
    assert.deepEqual(by.get('IMG-EFI-APP')?.evidence, { machine: '0x0' });
    assert.equal(by.get('IMG-EFI-APP')?.runId, 'x');
    assert.equal(by.get('IMG-GPT')?.verdict, 'NOT-RUN');
    assert.equal(by.get('FW-UEFI')?.verdict, 'NOT-COVERED');
    assert.match(by.get('FW-UEFI')!.requirement, /UEFI/);
    assert.equal(by.get('FW-UEFI')?.level, 'MUST');
    assert.deepEqual(by.get('IMG-EFI-APP')?.waivedBy, [], 'no known issue given');
  });

  it('waives a FAIL only when a known issue explains every latest failing run of the clause', () => {
    const ki = { id: 'ki-1', title: 'stub loader' };
    const a = row({ verdict: 'FAIL', clause: 'IMG-EFI-APP', runId: 'a', targetId: 't1' });
    const b = row({ verdict: 'FAIL', clause: 'IMG-EFI-APP', runId: 'b', targetId: 't2' });
    const onlyT1 = (r: ClauseVerdictRow) => (r.targetId === 't1' ? [ki] : []);
    const by = (
      rows: ClauseVerdictRow[],
      explain: (r: ClauseVerdictRow) => { id: string; title: string }[],
    ) => new Map(certify(CLAUSES, new Set(), rows, explain).map((c) => [c.clause, c]));
    assert.deepEqual(by([a, b], onlyT1).get('IMG-EFI-APP')?.waivedBy, [], 'one failure is not explained');
    const waived = by([a], onlyT1).get('IMG-EFI-APP');
    assert.deepEqual([waived?.verdict, waived?.waivedBy], ['FAIL', [ki]], 'still a FAIL, named');
  });
});

describe('tag selection', () => {
  const img = (name: string, version: string | null, createdAt: string, sha: string): ImageResource => ({
    sha256: sha.repeat(64),
    size: 512,
    format: 'raw',
    arch: 'aarch64',
    archDeclared: true,
    name,
    version,
    tags: ['t'],
    owner: null,
    uploadedAs: 'raw',
    createdAt,
  });
  it('picks the newest version of each name, numbers compared as numbers', () => {
    const picked = newestPerName([
      img('debian', '1.10', '2026-01-01', '1'),
      img('debian', '1.9', '2026-01-05', '2'),
      img('debian', null, '2026-01-09', '3'),
      img('fedora', null, '2026-01-01', '4'),
      img('fedora', null, '2026-01-02', '5'),
    ]);
    assert.deepEqual(
      picked.map((i) => [i.name, i.version, i.sha256[0]]),
      [
        ['debian', '1.10', '1'],
        ['fedora', null, '5'],
      ],
    );
  });
});

describe('schedule timing', () => {
  it('computes the next fire in the schedule time zone and rejects bad patterns and zones', () => {
    const from = new Date('2026-03-01T12:00:00.000Z');
    assert.equal(nextFire('0 2 * * *', 'UTC', from).toISOString(), '2026-03-02T02:00:00.000Z');
    assert.equal(nextFire('0 2 * * *', 'Europe/Paris', from).toISOString(), '2026-03-02T01:00:00.000Z');
    assert.deepEqual(cronErrors('0 2 * * *', 'UTC'), []);
    assert.deepEqual(
      cronErrors('61 * * * *', 'UTC').map((e) => e.path),
      ['cron'],
    );
    assert.deepEqual(
      cronErrors('0 2 * * *', 'Mars/Olympus').map((e) => e.path),
      ['timezone'],
    );
  });

  it('refuses a pattern that fires more often than the minimum interval, however it is spread', () => {
    const hour = 3600;
    assert.deepEqual(cronErrors('0 2 * * *', 'UTC', hour), []);
    assert.deepEqual(cronErrors('0 * * * *', 'UTC', hour), []);
    assert.match(
      cronErrors('* * * * * *', 'UTC', hour)[0].message,
      /fires 1 s apart.*every 3600 s \(VMFARM_MIN_SCHEDULE_SECONDS\)/,
    );
    assert.match(cronErrors('*/5 * * * *', 'UTC', hour)[0].message, /fires 300 s apart/);
    // Twice a minute once a day is still twice a minute.
    assert.match(cronErrors('0,1 3 * * *', 'Europe/Paris', hour)[0].message, /fires 60 s apart/);
    assert.deepEqual(cronErrors('* * * * * *', 'UTC', 0), [], '0: no minimum');
    assert.equal(shortestGapSeconds('0 2 * * *', 'UTC', new Date('2026-03-01T00:00:00Z'), hour), 86400);
  });
});

describe('event frames', () => {
  it('frames an event as one data line and counts matrix progress', () => {
    assert.equal(sseFrame('run', { a: 'x\ny' }), 'event: run\ndata: {"a":"x\\ny"}\n\n');
    assert.deepEqual(
      matrixEvent('m', [
        { state: 'done', verdict: 'PASS' },
        { state: 'done', verdict: 'FAIL' },
        { state: 'running', verdict: null },
      ]),
      { id: 'm', total: 3, done: 2, counts: { PASS: 1, FAIL: 1, ERROR: 0, SKIP: 0 }, state: 'running' },
    );
    assert.equal(matrixEvent('m', []).state, 'done');
  });
});
