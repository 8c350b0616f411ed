import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { matrixReportSchema, type VerdictRecord } from '@vmfarm/protocol';
import { vmfarm } from './serve-helpers';
import { FAKE_TOKEN, fakeController, type FakeController } from './submit-fake-controller';

const dir = mkdtempSync(join(tmpdir(), 'vmfarm-cli-submit-'));
const small = join(dir, 'small.img');
const other = join(dir, 'other.img');
writeFileSync(small, Buffer.alloc(64 * 1024, 1));
writeFileSync(other, Buffer.alloc(1000, 2));

let fake: FakeController;
before(async () => (fake = await fakeController()));
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.uploads.length = 0;
  fake.failWith = undefined;
  fake.pollsUntilDone = 2;
  fake.verdicts = [verdict('IMG-GPT', 'MUST', 'PASS')];
});

function verdict(clause: string, level: 'MUST' | 'SHOULD', v: VerdictRecord['verdict']): VerdictRecord {
  return { suite: 'static', clause, level, verdict: v, message: `${clause} ${v}`, evidence: {} };
}

/** The CLI as a process (asynchronously: the fake controller lives in this process). */
const run = (...args: string[]) =>
  vmfarm(args, { ...process.env, VMFARM_CONTROLLER: fake.url, VMFARM_TOKEN: FAKE_TOKEN });

/** Forwards to the fake controller and keeps every request (the fake keeps uploads only). */
async function recordingProxy(target: string) {
  const requests: { method: string; path: string; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method!, path: req.url!, body });
      const forward = request(new URL(req.url!, target), { method: req.method, headers: req.headers });
      forward.on('response', (answer: IncomingMessage) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('uploads every image with its name and arch, submits the matrix and prints its id', async () => {
  const r = await run(
    'submit',
    small,
    other,
    '--targets',
    'static',
    '--suites',
    'static',
    '--arch',
    'aarch64',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^m\d+\n$/);
  assert.deepEqual(
    fake.uploads.map((u) => [u.name, u.arch, u.sha256, u.bytes]),
    [
      ['small.img', 'aarch64', sha(small), 64 * 1024],
      ['other.img', 'aarch64', sha(other), 1000],
    ],
  );
  assert.match(r.stderr, new RegExp(`image small.img: ${sha(small)} raw\n`));
});

test('an image the controller has already is said so', async () => {
  await run('submit', small, '--targets', 'static', '--suites', 'all', '--name', 'first');
  const r = await run('submit', small, '--targets', 'static', '--suites', 'all', '--name', 'again');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /image again: [0-9a-f]{64} raw \(already on the controller\)/);
});

test('--wait shows progress on stderr and prints the JSON report; a MUST failure exits 1', async () => {
  fake.verdicts = [verdict('IMG-GPT', 'MUST', 'FAIL'), verdict('IMG-FW-NOT-BUNDLED', 'SHOULD', 'PASS')];
  const r = await run(
    'submit',
    small,
    '--targets',
    'static',
    '--suites',
    'static',
    '--wait',
    '--format',
    'json',
  );
  assert.equal(r.code, 1, r.stderr);
  const report = matrixReportSchema.parse(JSON.parse(r.stdout));
  assert.equal(report.cells.length, 1);
  assert.deepEqual(report.cells[0].verdicts, fake.verdicts);
  assert.deepEqual(report.summary.mustFailures, ['IMG-GPT']);
  assert.match(r.stderr, /matrix m\d+: 0\/1 cells done\n/);
  assert.match(r.stderr, /matrix m\d+: 1\/1 cells done\n/);
});

test('--wait exit codes follow the summary: 0 for PASS, 3 for an infrastructure ERROR', async () => {
  const pass = await run('submit', small, '--targets', 'static', '--suites', 'static', '--wait');
  assert.equal(pass.code, 0, pass.stderr);
  assert.match(pass.stdout, /PASS: 1 pass, 0 fail, 0 error, 0 skip/);
  fake.verdicts = [verdict('IMG-GPT', 'MUST', 'ERROR')];
  const error = await run(
    'submit',
    small,
    '--targets',
    'static',
    '--suites',
    'static',
    '--wait',
    '--format',
    'junit',
  );
  assert.equal(error.code, 3, error.stderr);
  assert.match(error.stdout, /^<\?xml [^\n]+\n<testsuites name="vmfarm matrix m\d+">\n/);
  assert.match(error.stdout, /<property name="image.name" value="[^"]+"\/>/);
  assert.match(error.stdout, /<error message="IMG-GPT ERROR">/);
});

test('a submit whose answer was lost is retried with the same Idempotency-Key: one matrix', async () => {
  fake.matrixKeys.length = 0;
  fake.loseMatrixAnswers = 1;
  const r = await run('submit', small, '--targets', 'static', '--suites', 'static');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /the matrix failed on the controller \(503\): lost; trying again \(1\/3\)/);
  assert.equal(fake.matrixKeys.length, 2);
  assert.match(fake.matrixKeys[0]!, /^[0-9a-f-]{36}$/);
  assert.equal(fake.matrixKeys[1], fake.matrixKeys[0]);
  // The second answer is the matrix the first request made.
  const before = Number(r.stdout.trim().slice(1));
  const again = await run('submit', small, '--targets', 'static', '--suites', 'static');
  assert.equal(Number(again.stdout.trim().slice(1)), before + 1, 'the retry made no matrix of its own');
  assert.notEqual(fake.matrixKeys[2], fake.matrixKeys[0], 'a new submit, a new key');
});

test('a payload suite alone needs no IMAGE: the matrix names none', async () => {
  const proxy = await recordingProxy(fake.url);
  try {
    const r = await run('submit', '--targets', 'static', '--suites', 'vbsa', '--controller', proxy.url);
    assert.equal(r.code, 0, r.stderr);
    const posted = proxy.requests.filter((x) => x.method === 'POST' && x.path === '/api/matrices');
    assert.deepEqual(
      posted.map((x) => JSON.parse(x.body.toString())),
      [{ images: [], targets: ['static'], suites: ['vbsa'] }],
    );
    assert.deepEqual(
      proxy.requests.filter((x) => x.method === 'PUT'),
      [],
    );
  } finally {
    await proxy.close();
  }
});

test('--ready is sent with the matrix; a bad regular expression exits 2 before any request', async () => {
  const proxy = await recordingProxy(fake.url);
  try {
    const args = ['submit', small, '--targets', 'static', '--suites', 'static', '--controller', proxy.url];
    const ok = await run(...args, '--ready', '^myos login:');
    assert.equal(ok.code, 0, ok.stderr);
    const posted = proxy.requests.filter((r) => r.method === 'POST' && r.path === '/api/matrices');
    assert.deepEqual(
      posted.map((r) => JSON.parse(r.body.toString())),
      [{ images: [sha(small)], targets: ['static'], suites: ['static'], ready: '^myos login:' }],
    );

    proxy.requests.length = 0;
    fake.uploads.length = 0;
    for (const [ready, message] of [
      [
        '(unclosed',
        /^vmfarm submit: --ready: not a valid regular expression: Invalid regular expression: .*\n$/,
      ],
      [
        '(\\w|\\w)*#',
        /^vmfarm submit: --ready: catastrophic backtracking: in \(\\w\|\\w\)\* the alternatives .*\n$/,
      ],
      ['', /^vmfarm submit: --ready needs a regular expression\n$/],
    ] as const) {
      const bad = await run(...args, '--ready', ready);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, message);
      assert.equal(bad.stdout, '');
    }
    assert.deepEqual(proxy.requests, []);
    assert.equal(fake.uploads.length, 0);
  } finally {
    await proxy.close();
  }
});

test('a refused matrix lists every error and exits 2', async () => {
  const r = await run('submit', small, '--targets', 'static,nosuch,other', '--suites', 'static');
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr
      .split('\n')
      .filter((l) => !l.startsWith('image '))
      .join('\n'),
    'vmfarm submit: the matrix was refused (400): invalid matrix\n  targets: unknown target nosuch\n  targets: unknown target other\n',
  );
  assert.equal(r.stdout, '');
});

test('a controller failing with 5xx exits 3', async () => {
  fake.failWith = {
    status: 503,
    body: { statusCode: 503, error: 'Service Unavailable', message: 'redis is down' },
  };
  const r = await run('submit', small, '--targets', 'static', '--suites', 'static');
  assert.equal(r.code, 3);
  assert.equal(
    r.stderr,
    'vmfarm submit: the upload of small.img failed on the controller (503): redis is down\n',
  );
});

test('a refused token, or none at all, is one line and exit 2', async () => {
  const refused = await run('submit', small, '--targets', 'static', '--suites', 'static', '--token', 'vmf_x');
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, 'vmfarm submit: the controller refused the token: invalid or revoked token\n');
  // No VMFARM_TOKEN and no local farm's admin.token in VMFARM_DATA.
  const none = await vmfarm(['report', 'm1'], {
    ...process.env,
    VMFARM_CONTROLLER: fake.url,
    VMFARM_TOKEN: '',
    VMFARM_DATA: dir,
  });
  assert.equal(none.code, 2);
  assert.equal(none.stderr, 'vmfarm report: no token: set VMFARM_TOKEN or pass --token\n');
});

test('an unreachable controller exits 3 with one line', async () => {
  const r = await run(
    'submit',
    small,
    '--targets',
    'static',
    '--suites',
    'static',
    '--controller',
    'http://127.0.0.1:9',
  );
  assert.equal(r.code, 3);
  assert.equal(r.stderr, 'vmfarm submit: cannot reach the controller at http://127.0.0.1:9: ECONNREFUSED\n');
});

test('--timeout gives up on a matrix that does not finish: exit 3', async () => {
  fake.pollsUntilDone = Infinity;
  const r = await run(
    'submit',
    small,
    '--targets',
    'static',
    '--suites',
    'static',
    '--wait',
    '--timeout',
    '0.5',
  );
  assert.equal(r.code, 3);
  assert.match(
    r.stderr,
    /vmfarm submit: gave up waiting for matrix m\d+ after 0\.5 s \(0\/1 cells done\)\n$/,
  );
  assert.equal(r.stdout, '');
});

test('an unreadable image exits 2 before anything is uploaded', async () => {
  const r = await run('submit', small, join(dir, 'missing.img'), '--targets', 'static', '--suites', 'static');
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `vmfarm submit: cannot read image ${join(dir, 'missing.img')}: ENOENT\n`);
  assert.equal(fake.uploads.length, 0);
});

test('usage errors exit 2 with one line', async () => {
  for (const [args, message] of [
    [['submit', small, '--suites', 'static'], '--targets is required (a comma-separated list; see --help)'],
    [
      ['submit', small, '--targets', 'static', '--suites', 'static', '--format', 'xml'],
      "--format must be one of text, json, junit (got 'xml')",
    ],
    [
      ['submit', small, other, '--targets', 'a', '--suites', 'b', '--name', 'x'],
      '--name names one IMAGE only',
    ],
    [['submit', '--targets', 'a', '--suites', 'all'], 'give at least one IMAGE (see --help)'],
  ] as const) {
    const r = await run(...args);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `vmfarm submit: ${message}\n`);
  }
});

test('a big image is streamed whole, with progress on stderr', async () => {
  const big = join(dir, 'big.img');
  writeFileSync(big, '');
  truncateSync(big, 40 * 1024 * 1024); // sparse: cheap to make
  const r = await run('submit', big, '--targets', 'static', '--suites', 'static');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fake.uploads[0].bytes, 40 * 1024 * 1024);
  assert.equal(fake.uploads[0].sha256, sha(big));
  assert.match(
    r.stderr,
    /uploading big\.img: 50% of 40\.0 MiB\n(.|\n)*uploading big\.img: 100% of 40\.0 MiB\n/,
  );
});

test('report prints a matrix in each format, exit code from its summary', async () => {
  fake.verdicts = [verdict('IMG-GPT', 'MUST', 'FAIL')];
  const submitted = await run('submit', small, '--targets', 'static', '--suites', 'static');
  const id = submitted.stdout.trim();
  fake.pollsUntilDone = 0;
  const text = await run('report', id);
  assert.equal(text.code, 1);
  assert.match(text.stdout, new RegExp(`^matrix ${id} done 1/1\n`));
  const json = await run('report', id, '--format', 'json');
  assert.equal(matrixReportSchema.parse(JSON.parse(json.stdout)).matrix.id, id);
  const unknown = await run('report', 'nosuch');
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    'vmfarm report: the report of matrix nosuch was refused (404): no route GET /api/matrices/nosuch/report\n',
  );
});
