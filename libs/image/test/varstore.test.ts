/**
 * The edk2 variable store parser against Debian's AAVMF templates (qemu-efi-aarch64,
 * qemu-efi-arm), a store written by a real VM, stores edited or built here, and corrupt input.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  attributeNames,
  AUTH_VARIABLE_GUID,
  EFI_GLOBAL_VARIABLE_GUID,
  guidBytes,
  IMAGE_SECURITY_DATABASE_GUID,
  parseVariableStore,
  RawSource,
  VARIABLE_GUID,
  type VariableStore,
} from '../src';
import { authVariable, nvDataVolume } from './builders';
import { bootAndRun, buildGuest, vmUnavailable } from './varstore-vm';

const AAVMF = '/usr/share/AAVMF';
const VARS = `${AAVMF}/AAVMF_VARS.fd`;
const VARS_MS = `${AAVMF}/AAVMF_VARS.ms.fd`;
const VARS32 = `${AAVMF}/AAVMF32_VARS.fd`;
const CODE = `${AAVMF}/AAVMF_CODE.fd`;
const TEST_GUID = '8C1F2A4E-5E1B-4A7D-9A3C-766D6661726D';

/** Debian's firmware files, or a skip (a failure under CI=true: the set-up must install them). */
function needFiles(t: TestContext, ...files: string[]): boolean {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  const why = `missing ${missing.join(', ')}: install Debian's qemu-efi-aarch64 and qemu-efi-arm`;
  if (process.env.CI === 'true') assert.fail(why);
  t.skip(why);
  return false;
}

async function parseFile(path: string): Promise<VariableStore> {
  const src = await RawSource.open(path);
  try {
    return await parseVariableStore(src);
  } finally {
    await src.close();
  }
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(length);
    await fh.read(b, 0, length, 0);
    return b;
  } finally {
    await fh.close();
  }
}

async function isAllZero(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) return true;
      if (!chunk.subarray(0, bytesRead).every((b) => b === 0)) return false;
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

const live = (s: VariableStore, name: string, guid?: string) =>
  s.variables.filter((v) => v.name === name && (!guid || v.guid === guid));
const names = (s: VariableStore) => s.variables.map((v) => v.name);

// --- builders: the layouts of edk2's VariableFormat.h and PiFirmwareVolume.h ---

const align4 = (n: number) => (n + 3) & ~3;

interface VarSpec {
  name: string;
  guid?: string;
  data: Buffer;
  state?: number;
  attributes?: number;
}

const authVar = (spec: VarSpec) => authVariable({ guid: TEST_GUID, ...spec });

function plainVar({ name, guid = TEST_GUID, data, state = 0x3f, attributes = 7 }: VarSpec): Buffer {
  const n = Buffer.from(`${name}\0`, 'utf16le');
  const b = Buffer.alloc(align4(32 + n.length + data.length), 0xff);
  b.fill(0, 0, 32);
  b.writeUInt16LE(0x55aa, 0);
  b[2] = state;
  b.writeUInt32LE(attributes, 4);
  b.writeUInt32LE(n.length, 8);
  b.writeUInt32LE(data.length, 12);
  guidBytes(guid).copy(b, 16);
  n.copy(b, 32);
  data.copy(b, 32 + n.length);
  return b;
}

const fvStore = nvDataVolume;

/** Deterministic bytes for the corrupt-input tests. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

// --- Debian's templates ---

test('AAVMF_VARS.fd and AAVMF32_VARS.fd are all zeros: blank, no store, no problems', async (t) => {
  if (!needFiles(t, VARS, VARS32)) return;
  for (const f of [VARS, VARS32]) {
    assert.ok(await isAllZero(f), `${f} is all zero bytes`);
    assert.deepEqual(await parseFile(f), {
      container: 'none',
      format: null,
      blank: true,
      storeOffset: -1,
      storeSize: 0,
      usedBytes: 0,
      variables: [],
      deletedCount: 0,
      incompleteCount: 0,
      problems: [],
    });
  }
});

test('AAVMF_VARS.ms.fd: Secure Boot keys enrolled, PK KEK db dbx live, no BootOrder', async (t) => {
  if (!needFiles(t, VARS_MS)) return;
  const s = await parseFile(VARS_MS);
  assert.equal(s.container, 'firmware-volume');
  assert.equal(s.format, 'authenticated');
  assert.equal(s.storeOffset, 0x48);
  assert.equal(s.storeSize, 0x40000 - 0x48);
  assert.deepEqual(s.problems, []);
  for (const [name, guid, vendor] of [
    ['PK', EFI_GLOBAL_VARIABLE_GUID, 'EFI global'],
    ['KEK', EFI_GLOBAL_VARIABLE_GUID, 'EFI global'],
    ['db', IMAGE_SECURITY_DATABASE_GUID, 'image security database'],
    ['dbx', IMAGE_SECURITY_DATABASE_GUID, 'image security database'],
  ]) {
    const [v, ...more] = live(s, name, guid);
    assert.ok(v, `${name} is live`);
    assert.equal(more.length, 0, `one live ${name}`);
    assert.equal(v.vendor, vendor);
    assert.equal(v.attributes, 0x27);
    assert.deepEqual(v.attributeNames, ['NV', 'BS', 'RT', 'AT']);
    assert.equal(v.state, 0x3f);
    assert.equal(v.dataSize, v.data.length);
    assert.match(v.timeStamp ?? '', /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // An EFI_SIGNATURE_LIST: SignatureListSize covers the first list.
    assert.ok(
      v.data.readUInt32LE(16) <= v.dataSize && v.data.readUInt32LE(16) >= 28,
      `${name} holds signature lists`,
    );
  }
  assert.deepEqual(live(s, 'SecureBootEnable')[0].data, Buffer.from([1]));
  assert.deepEqual(live(s, 'CustomMode')[0].data, Buffer.from([0]));
  assert.equal(live(s, 'CustomMode').length, 1, 'two deleted CustomMode copies are not live');
  assert.deepEqual(live(s, 'BootOrder'), [], 'every BootOrder copy in the template is deleted');
  assert.deepEqual(names(s).sort(), [
    'Boot0000',
    'Boot0001',
    'Boot0002',
    'ConIn',
    'ConOut',
    'CustomMode',
    'ErrOut',
    'KEK',
    'Key0000',
    'Key0001',
    'Lang',
    'MTC',
    'MemoryTypeInformation',
    'PK',
    'PlatformLang',
    'SecureBootEnable',
    'Timeout',
    'VarErrorFlag',
    'VendorKeysNv',
    'certdb',
    'db',
    'dbx',
  ]);
  assert.equal(s.deletedCount, 7);
  assert.equal(s.incompleteCount, 0);
  assert.deepEqual(live(s, 'PlatformLang')[0].data, Buffer.from('en\0', 'latin1'));
  // The same from the bytes of the volume alone (Buffer input).
  const fromBytes = await parseVariableStore(await readHead(VARS_MS, 0xc0000));
  assert.deepEqual(fromBytes, s);
});

test('AAVMF_CODE.fd is no variable store', async (t) => {
  if (!needFiles(t, CODE)) return;
  const s = await parseFile(CODE);
  assert.equal(s.format, null);
  assert.equal(s.blank, false);
  assert.match(s.problems[0], /^no variable store/);
});

// --- a store written by a real VM ---

test('a VM boots on a copy of AAVMF_VARS.fd, sets, updates and deletes variables: its store shows them', async (t) => {
  const missing = vmUnavailable();
  if (missing) {
    if (process.env.CI === 'true') assert.fail(missing);
    return t.skip(missing);
  }
  const work = mkdtempSync(join(tmpdir(), 'vmfarm-varstore-test-'));
  try {
    const image = await buildGuest(join(work, 'guest'));
    const vars = join(work, 'vars.fd');
    const g = TEST_GUID.toLowerCase();
    const answers = await bootAndRun(image, VARS, vars, [
      `vmfarm setvar VmfarmVarstore ${g} 68656c6c6f`,
      `vmfarm setvar VmfarmUpdated ${g} 0102`,
      `vmfarm setvar VmfarmUpdated ${g} 030405`,
      `vmfarm setvar VmfarmGone ${g} 00`,
      `vmfarm delvar VmfarmGone ${g}`,
    ]);
    assert.deepEqual(answers, [
      'VMFARM-OK setvar',
      'VMFARM-OK setvar',
      'VMFARM-OK setvar',
      'VMFARM-OK setvar',
      'VMFARM-OK delvar',
      'VMFARM-OK poweroff',
    ]);
    const s = await parseFile(vars);
    assert.equal(s.container, 'firmware-volume', 'the firmware formatted the blank template');
    assert.equal(s.format, 'authenticated');
    assert.deepEqual(s.problems, []);
    const [v] = live(s, 'VmfarmVarstore', TEST_GUID);
    assert.deepEqual(v.data, Buffer.from('hello'));
    assert.equal(v.attributes, 7);
    assert.deepEqual(v.attributeNames, ['NV', 'BS', 'RT']);
    assert.equal(v.vendor, undefined);
    const updated = live(s, 'VmfarmUpdated', TEST_GUID);
    assert.equal(updated.length, 1);
    assert.deepEqual(updated[0].data, Buffer.from([3, 4, 5]));
    assert.deepEqual(live(s, 'VmfarmGone'), []);
    assert.ok(s.deletedCount >= 2, 'the old VmfarmUpdated and VmfarmGone stay as deleted records');
    // What the firmware itself wrote on first boot.
    assert.equal(live(s, 'BootOrder', EFI_GLOBAL_VARIABLE_GUID).length, 1);
    assert.equal(live(s, 'PK').length, 0, 'no Secure Boot keys in the plain template');
    assert.ok(names(s).includes('Boot0000'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

// --- stores edited or built here ---

test('an update interrupted mid-way: edk2 state rules on a copy of the Secure Boot template', async (t) => {
  if (!needFiles(t, VARS_MS)) return;
  const base = await readHead(VARS_MS, 0xc0000);
  const before = await parseVariableStore(base);
  const timeout = live(before, 'Timeout', EFI_GLOBAL_VARIABLE_GUID)[0];
  const end = before.storeOffset + before.usedBytes;

  // Old copy VAR_IN_DELETED_TRANSITION, new copy VAR_ADDED: only the new one is live.
  const a = Buffer.from(base);
  a[timeout.offset + 2] = 0x3e;
  const fresh = authVar({ name: 'Timeout', guid: EFI_GLOBAL_VARIABLE_GUID, data: Buffer.from([5, 0]) });
  fresh.copy(a, end);
  authVar({ name: 'VmfarmAdded', data: Buffer.from('abc') }).copy(a, end + fresh.length);
  const sa = await parseVariableStore(a);
  assert.deepEqual(sa.problems, []);
  assert.deepEqual(
    live(sa, 'Timeout').map((v) => [v.data, v.state]),
    [[Buffer.from([5, 0]), 0x3f]],
  );
  assert.equal(sa.deletedCount, before.deletedCount + 1);
  assert.deepEqual(live(sa, 'VmfarmAdded', TEST_GUID)[0].data, Buffer.from('abc'));
  assert.equal(names(sa).length, names(before).length + 1);

  // New copy only VAR_HEADER_VALID_ONLY (power lost before its data): the old copy stays live.
  const b = Buffer.from(a);
  b[end + 2] = 0x7f;
  const sb = await parseVariableStore(b);
  assert.deepEqual(
    live(sb, 'Timeout').map((v) => [v.data, v.state]),
    [[timeout.data, 0x3e]],
  );
  assert.equal(sb.incompleteCount, 1);
  assert.equal(sb.deletedCount, before.deletedCount);
});

test('the plain (non-authenticated) format', async () => {
  const s = await parseVariableStore(
    fvStore(VARIABLE_GUID, [
      plainVar({ name: 'Old', data: Buffer.from([1]), state: 0x3c }),
      plainVar({ name: 'Lang', guid: EFI_GLOBAL_VARIABLE_GUID, data: Buffer.from('eng'), attributes: 7 }),
      plainVar({ name: 'X', data: Buffer.alloc(0), attributes: 0x103 }),
    ]),
  );
  assert.equal(s.format, 'plain');
  assert.deepEqual(s.problems, []);
  assert.deepEqual(
    s.variables.map((v) => [v.name, v.guid, v.vendor, v.attributeNames, v.data.toString()]),
    [
      ['Lang', EFI_GLOBAL_VARIABLE_GUID, 'EFI global', ['NV', 'BS', 'RT'], 'eng'],
      ['X', TEST_GUID, undefined, ['NV', 'BS', '0x100'], ''],
    ],
  );
  assert.equal(s.deletedCount, 1);
  assert.equal(s.variables[0].timeStamp, undefined);
});

test('a bare variable store header at offset 0 (no firmware volume)', async () => {
  const fv = fvStore(AUTH_VARIABLE_GUID, [authVar({ name: 'A', data: Buffer.from([9]) })]);
  const bare = fv.subarray(0x48, 0x48 + 0x1000);
  bare.writeUInt32LE(0x1000, 16);
  const s = await parseVariableStore(Buffer.from(bare));
  assert.equal(s.container, 'bare');
  assert.equal(s.storeOffset, 0);
  assert.deepEqual(s.problems, []);
  assert.deepEqual(names(s), ['A']);
});

test('attribute names', () => {
  assert.deepEqual(attributeNames(0x27), ['NV', 'BS', 'RT', 'AT']);
  assert.deepEqual(attributeNames(0xff), ['NV', 'BS', 'RT', 'HR', 'AW', 'AT', 'AP', 'EA']);
  assert.deepEqual(attributeNames(0x80000001), ['NV', '0x80000000']);
  assert.deepEqual(attributeNames(0), []);
});

// --- corrupt input: problems, never exceptions, never endless ---

test('bad checksum, wrong revision, unknown signature, erased or unformatted store header', async () => {
  const good = fvStore(AUTH_VARIABLE_GUID, [authVar({ name: 'A', data: Buffer.from([1]) })]);
  const cs = Buffer.from(good);
  cs[0x2c] ^= 1;
  const s1 = await parseVariableStore(cs);
  assert.match(s1.problems.join('\n'), /checksum is wrong/);
  assert.deepEqual(names(s1), ['A'], 'the variables are still listed');

  const sig = Buffer.from(good);
  sig[0x48] ^= 0xff;
  const s2 = await parseVariableStore(sig);
  assert.equal(s2.format, null);
  assert.match(s2.problems[0], /^unknown variable store signature /);

  const erased = Buffer.from(good);
  erased.fill(0xff, 0x48, 0x48 + 28);
  assert.match((await parseVariableStore(erased)).problems[0], /erased/);

  const unhealthy = Buffer.from(good);
  unhealthy[0x5c] = 0xff;
  unhealthy[0x5d] = 0xff;
  assert.deepEqual((await parseVariableStore(unhealthy)).problems, [
    'the variable store is not formatted (Format 0xff, must be 0x5a)',
    'the variable store is not healthy (State 0xff, must be 0xfe)',
  ]);

  const other = Buffer.from(good);
  guidBytes('8C8CE578-8A3D-4F1C-9935-896185C32DD3').copy(other, 0x10);
  assert.match(
    (await parseVariableStore(other)).problems[0],
    /is not a variable store \(file system GUID 8C8CE578/,
  );
});

test('truncated input: the variables before the cut, a truncation problem', async (t) => {
  if (!needFiles(t, VARS_MS)) return;
  const cut = await readHead(VARS_MS, 0x1000);
  const s = await parseVariableStore(cut);
  assert.ok(s.problems.some((p) => /^truncated: the firmware volume declares 786432 bytes/.test(p)));
  assert.ok(
    s.problems.some((p) => /^truncated: the variable at offset 0x994 \(NameSize 6, DataSize 3143\)/.test(p)),
  );
  assert.ok(names(s).includes('MemoryTypeInformation'));
  assert.ok(!names(s).includes('db'));
  for (const len of [0, 1, 0x30, 0x4f, 0x64]) {
    const r = await parseVariableStore(cut.subarray(0, len));
    assert.ok(r.problems.length > 0 || r.blank, `${len} bytes`);
    assert.deepEqual(r.variables, []);
  }
});

test('NameSize or DataSize pointing past the end, an oversized store Size', async () => {
  const good = fvStore(AUTH_VARIABLE_GUID, [
    authVar({ name: 'A', data: Buffer.from([1]) }),
    authVar({ name: 'B', data: Buffer.from([2]) }),
  ]);
  const second = 0x64 + authVar({ name: 'A', data: Buffer.from([1]) }).length;
  for (const [field, value] of [
    [0x24, 0xfffffff0],
    [0x28, 0x7fffffff],
    [0x24, 0x10000],
  ]) {
    const b = Buffer.from(good);
    b.writeUInt32LE(value, second + field);
    const s = await parseVariableStore(b);
    assert.deepEqual(names(s), ['A']);
    assert.match(
      s.problems.join('\n'),
      new RegExp(`^truncated: the variable at offset 0x${second.toString(16)} `, 'm'),
    );
  }
  const torn = await parseVariableStore(good.subarray(0, second + 30));
  assert.deepEqual(names(torn), ['A']);
  assert.ok(
    torn.problems.includes(
      `truncated: the variable header at offset 0x${second.toString(16)} passes the end of the store`,
    ),
  );
  const big = Buffer.from(good);
  big.writeUInt32LE(0xffffffff, 0x58);
  const s = await parseVariableStore(big);
  assert.match(s.problems[0], /^variable store size 4294967295 passes the end of its firmware volume/);
  assert.deepEqual(names(s), ['A', 'B']);
  const dirty = Buffer.from(good);
  dirty[0x4000] = 0;
  assert.match(
    (await parseVariableStore(dirty)).problems[0],
    /free space of the store is not erased at offset 0x4000/,
  );
});

test('loop-free: a store packed with empty records ends; all-ones headers read as empty', async () => {
  const rec = Buffer.alloc(60);
  rec.writeUInt16LE(0x55aa, 0);
  rec[2] = 0x3f;
  const fv = fvStore(AUTH_VARIABLE_GUID, []);
  for (let off = 0x64; off + 60 <= fv.length; off += 60) rec.copy(fv, off);
  const s = await parseVariableStore(fv);
  assert.equal(s.variables.length, Math.floor((0x10000 - 0x64) / 60));
  // A header whose write stopped with sizes still erased: edk2 treats it as header-only, so do we.
  const torn = fvStore(AUTH_VARIABLE_GUID, [authVar({ name: 'A', data: Buffer.from([1]) })]);
  torn.fill(0xff, 0x64 + 0x24, 0x64 + 0x2c);
  torn[0x64 + 2] = 0x7f;
  const st = await parseVariableStore(torn);
  assert.equal(st.incompleteCount, 1);
  assert.deepEqual(st.variables, []);
});

test('random bytes and random damage to a real store: problems, never exceptions', async (t) => {
  const next = prng(0x5eed);
  const random = Buffer.alloc(1 << 20);
  for (let i = 0; i < random.length; i += 4) random.writeUInt32LE(next(), i);
  const r = await parseVariableStore(random);
  assert.equal(r.format, null);
  assert.match(r.problems[0], /^no variable store/);
  const withHeader = fvStore(AUTH_VARIABLE_GUID, []);
  random.copy(withHeader, 0x64, 0, withHeader.length - 0x64);
  withHeader.writeUInt16LE(0x55aa, 0x64);
  const rh = await parseVariableStore(withHeader);
  assert.ok(rh.problems.length > 0);

  if (!needFiles(t, VARS_MS)) return;
  const base = await readHead(VARS_MS, 0x4000);
  for (let round = 0; round < 300; round++) {
    const b = Buffer.from(base);
    for (let k = 1 + (next() % 16); k > 0; k--) b[next() % 0x2700] = next() & 0xff;
    const s = await parseVariableStore(b);
    assert.ok(Array.isArray(s.problems) && s.variables.every((v) => v.data.length === v.dataSize));
  }
});

test('all 0xFF (erased flash) is blank', async () => {
  const s = await parseVariableStore(Buffer.alloc(0x20000, 0xff));
  assert.equal(s.blank, true);
  assert.deepEqual(s.problems, []);
});
