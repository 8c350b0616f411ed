import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { HostError, isAlive, sleep, startChild, which } from '../src';

const node = process.execPath;

async function eventually(what: string, condition: () => boolean, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `gave up waiting until ${what}`);
    await sleep(20);
  }
}

test('waits for the ready line, forwards output with a prefix, stops with SIGTERM', async () => {
  const lines: string[] = [];
  const child = await startChild({
    name: 'demo',
    command: node,
    args: [
      '-e',
      "console.error('warming up'); setTimeout(() => console.log('demo ready at 4711'), 50); setInterval(() => {}, 1000)",
    ],
    ready: /ready at (\d+)/,
    output: (line) => lines.push(line),
  });
  assert.equal(child.match[1], '4711');
  assert.deepEqual(lines.sort(), ['[demo] demo ready at 4711', '[demo] warming up']);
  assert.deepEqual(await child.stop(), { code: null, signal: 'SIGTERM' });
  assert.equal(isAlive(child.pid), false);
});

test('a child that exits before it is ready is reported with its last stderr lines', async () => {
  await assert.rejects(
    startChild({
      name: 'broken',
      command: node,
      args: ['-e', "console.error('cannot open database'); process.exit(3)"],
      ready: /ready/,
      output: () => {},
    }),
    (err: Error) => {
      assert.ok(err instanceof HostError);
      assert.match(
        err.message,
        /^broken exited with code 3 before it was ready; its last stderr lines:\n {2}cannot open database$/,
      );
      return true;
    },
  );
});

test('a child that never gets ready is stopped and reported', async () => {
  let pid = 0;
  await assert.rejects(
    startChild({
      name: 'silent',
      // A shell prints its pid at once, even on a loaded host; then it becomes a silent sleep.
      command: 'sh',
      args: ['-c', 'echo $$; exec sleep 1000'],
      ready: /ready/,
      readyTimeoutMs: 2000,
      output: (line) => (pid = Number(line.split(' ')[1])),
    }),
    (err: Error) => err.message === 'silent did not print its ready line within 2000 ms',
  );
  assert.ok(pid > 0);
  assert.equal(isAlive(pid), false);
});

test('a child ignoring SIGTERM is killed with its process group after the grace period', async () => {
  const child = await startChild({
    name: 'stubborn',
    command: node,
    args: [
      '-e',
      "process.on('SIGTERM', () => {}); const g = require('child_process').spawn('sleep', ['1000'], { stdio: 'ignore' });" +
        "console.log('ready ' + g.pid); setInterval(() => {}, 1000)",
    ],
    ready: /ready (\d+)/,
    graceMs: 200,
    output: () => {},
  });
  const grandchild = Number(child.match[1]);
  assert.equal(isAlive(grandchild), true);
  assert.deepEqual(await child.stop(), { code: null, signal: 'SIGKILL' });
  await eventually('the grandchild is gone', () => !isAlive(grandchild));
});

test('children do not outlive a SIGKILLed parent', { skip: !which('setpriv') && 'no setpriv' }, async () => {
  const parent = spawn(
    node,
    [
      '-e',
      `require(${JSON.stringify(__dirname + '/../src')}).startChild({ name: 'c', command: process.execPath,` +
        " args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'], ready: /^\\d+$/, output: () => {} })" +
        '.then((c) => { console.log(c.pid); setInterval(() => {}, 1000); })',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const pid = Number(
    await new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d)))),
  );
  assert.equal(isAlive(pid), true);
  parent.kill('SIGKILL');
  await eventually('the child is gone', () => !isAlive(pid));
});
