import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  acceptsXen,
  describeXenbusState,
  parseXlDeviceList,
  parseXlInfo,
  parseXlList,
  resolveXenFile,
  vbdDevid,
  type XenProbe,
  type XenProfile,
} from '../src';

// Output of xl 4.17.7 (Debian 12) in the nested dom0, as printed (tabs and trailing spaces kept).
const XL_LIST = `Name                                        ID   Mem VCPUs\tState\tTime(s)
Domain-0                                     0  1024     1     r-----      32.9
t1                                           1   256     1     -b----       0.8
crashed                                      7   512     1     ----c-       3.0
`;
const BLOCK_LIST = `Vdev  BE  handle state evt-ch ring-ref BE-path                       
51712 0   1      4     3      8        /local/domain/0/backend/vbd/1/51712
51728 0   1      4     6      524      /local/domain/0/backend/vbd/1/51728
`;
const NETWORK_LIST = `Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path                       
0   0  00:16:3e:00:00:01     0     1     -1    -1/-1          /local/domain/0/backend/vif/1/0
2   0  00:16:3e:00:00:07     2     4     -1  1552/1553        /local/domain/0/backend/vif/1/2
`;
const XL_INFO = `host                   : vmfarm-host
release                : 6.1.0-57-arm64
total_memory           : 3072
free_memory            : 1980
xen_version            : 4.17.7
xen_commandline        : dom0_mem=1024M console=dtuart dom0_max_vcpus=1
`;

test('xl list rows with their state flags', () => {
  const rows = parseXlList(XL_LIST);
  assert.deepEqual(rows[1], {
    name: 't1',
    id: 1,
    memoryMiB: 256,
    vcpus: 1,
    state: ['blocked'],
    cpuSeconds: 0.8,
  });
  assert.deepEqual(rows[0].state, ['running']);
  assert.deepEqual(rows[2].state, ['crashed']);
  assert.throws(
    () => parseXlList('Name  ID  Mem VCPUs\tState\tTime(s)\nnonsense here\n'),
    /cannot read "nonsense here"/,
  );
});

test('xl block-list and network-list rows: device id, state, MAC, backend path', () => {
  assert.deepEqual(parseXlDeviceList(BLOCK_LIST, 'blk')[1], {
    devid: 51728,
    backendDomain: 0,
    state: 4,
    backendPath: '/local/domain/0/backend/vbd/1/51728',
  });
  const nics = parseXlDeviceList(NETWORK_LIST, 'net');
  assert.deepEqual(
    nics.map((n) => [n.devid, n.state, n.mac]),
    [
      [0, 1, '00:16:3e:00:00:01'],
      [2, 4, '00:16:3e:00:00:07'],
    ],
  );
  assert.throws(() => parseXlDeviceList(NETWORK_LIST, 'blk'), /block-list: cannot read/);
});

test('xl info keys; xenbus states; vbd ids as xl numbers xvdN', () => {
  const info = parseXlInfo(XL_INFO);
  assert.equal(info.xen_version, '4.17.7');
  assert.equal(info.free_memory, '1980');
  assert.equal(info.xen_commandline, 'dom0_mem=1024M console=dtuart dom0_max_vcpus=1');
  assert.equal(describeXenbusState(4), '4 (Connected)');
  assert.equal(describeXenbusState(6), '6 (Closed)');
  assert.equal(vbdDevid('xvda'), 51712);
  assert.equal(vbdDevid('xvdb'), 51728);
  assert.throws(() => vbdDevid('sda'), /xvda/);
});

const profile: XenProfile = {
  id: 'xen-aarch64',
  kind: 'xen',
  description: '',
  arch: ['aarch64'],
  kernel: 'XEN_EFI.fd',
  memoryMiB: 512,
  smp: 1,
  bridge: 'xenbr0',
};
const dom0: XenProbe = {
  url: 'ssh://root@127.0.0.1:2722',
  arch: 'aarch64',
  xl: { path: '/usr/sbin/xl', info: parseXlInfo(XL_INFO) },
  xenVersion: '4.17.7',
  freeMemoryMiB: 1980,
  xenstore: true,
  xenconsole: '/usr/sbin/xenconsole',
  bridges: ['xenbr0'],
  gic: 3,
  firmware: { 'XEN_EFI.fd': '/usr/share/xen-efi/XEN_EFI.fd' },
  files: {},
};

test('a dom0 with xl, the firmware, memory and the bridge accepts the profile', () => {
  assert.deepEqual(acceptsXen(profile, dom0), { ok: true });
  assert.deepEqual(resolveXenFile(dom0, 'XEN_EFI.fd'), { ok: true, path: '/usr/share/xen-efi/XEN_EFI.fd' });
});

test('every reason a host cannot run the profile is named', () => {
  const notDom0: XenProbe = {
    ...dom0,
    arch: 'x86_64',
    xl: { path: '/usr/sbin/xl', info: null, error: 'xc_interface_open failed' },
    freeMemoryMiB: null,
    xenstore: false,
    xenconsole: null,
    bridges: [],
    firmware: {},
  };
  const a = acceptsXen(profile, notDom0);
  assert.equal(a.ok, false);
  assert.deepEqual(!a.ok && a.reasons, [
    'xl cannot reach Xen: xc_interface_open failed',
    'xenstore-read is not installed (Debian: xenstore-utils)',
    'xenconsole is not installed (Debian: xen-utils-4.17)',
    'the host is x86_64: it cannot run aarch64 domains',
    'kernel XEN_EFI.fd is not offered by this host (nothing in /usr/lib/xen-4.17/boot, /usr/share/xen-efi)',
    'no bridge xenbr0 in dom0 (it has none)',
  ]);
  const small = acceptsXen({ ...profile, memoryMiB: 4096 }, dom0);
  assert.deepEqual(!small.ok && small.reasons, ['Xen has 1980 MiB free, the profile asks for 4096 MiB']);
  const noXl = acceptsXen(profile, { ...dom0, xl: null });
  assert.match(!noXl.ok ? noXl.reason : '', /xl is not installed/);
});
