import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tokenSecretSchema, type Role } from '@vmfarm/protocol';
import { Caller } from '../src/auth/caller';
import { ADMINS, AGENTS, credentialOf, decide, EVERYONE, READERS, WRITERS } from '../src/auth/policy';
import { newToken, tokenHash } from '../src/auth/secrets';

const as = (role: Role, tenant: string | null = role === 'vendor' ? 'acme' : null) =>
  new Caller({ id: `${role}-id`, name: role, role, tenant });

describe('route rules', () => {
  it('lets anyone call a public route, token or not', () => {
    assert.deepEqual(decide('public', undefined, false, 'GET /api/health'), { ok: true });
    assert.deepEqual(decide('public', undefined, true, 'GET /api/health'), { ok: true });
  });

  it('answers 401 without a token and for an unknown one, saying which', () => {
    const none = decide(READERS, undefined, false, 'GET /api/images');
    assert.deepEqual(none, {
      ok: false,
      status: 401,
      message: 'no token: send "Authorization: Bearer <token>" or log in with POST /api/session',
    });
    assert.deepEqual(decide(READERS, undefined, true, 'GET /api/images'), {
      ok: false,
      status: 401,
      message: 'invalid or revoked token',
    });
  });

  it('answers 403 to a role the route does not admit', () => {
    const table: [readonly Role[], Role, boolean][] = [
      [READERS, 'admin', true],
      [READERS, 'vendor', true],
      [READERS, 'viewer', true],
      [READERS, 'agent', false],
      [WRITERS, 'admin', true],
      [WRITERS, 'vendor', true],
      [WRITERS, 'viewer', false],
      [WRITERS, 'agent', false],
      [AGENTS, 'agent', true],
      [AGENTS, 'admin', true],
      [AGENTS, 'vendor', false],
      [AGENTS, 'viewer', false],
      [ADMINS, 'admin', true],
      [ADMINS, 'vendor', false],
      [ADMINS, 'viewer', false],
      [ADMINS, 'agent', false],
    ];
    for (const [rule, role, ok] of table) {
      const d = decide(rule, as(role), true, 'POST /api/x');
      assert.equal(d.ok, ok, `${role} on ${rule.join(',')}`);
      if (!d.ok)
        assert.deepEqual(d, { ok: false, status: 403, message: `a ${role} token may not call POST /api/x` });
    }
    for (const role of EVERYONE) assert.equal(decide(EVERYONE, as(role), true, 'GET /api/me').ok, true);
  });

  it('refuses a route that declares no rule, whoever calls', () => {
    assert.deepEqual(decide(undefined, as('admin'), true, 'GET /api/new'), {
      ok: false,
      status: 403,
      message: 'GET /api/new has no access rule',
    });
  });
});

describe('ownership', () => {
  it('shows a vendor its own and public rows, and lets it change only its own', () => {
    const acme = as('vendor', 'acme');
    assert.equal(acme.scope, 'acme');
    assert.equal(acme.owner, 'acme');
    assert.equal(acme.canRead('acme'), true);
    assert.equal(acme.canRead(null), true);
    assert.equal(acme.canRead('globex'), false);
    assert.equal(acme.canWrite('acme'), true);
    assert.equal(acme.canWrite(null), false);
    assert.equal(acme.canWrite('globex'), false);
  });

  it('shows admins, viewers and agents every row; only an admin changes any, and makes public rows', () => {
    for (const role of ['admin', 'viewer', 'agent'] as const) {
      const caller = as(role);
      assert.equal(caller.scope, undefined, role);
      assert.equal(caller.canRead('globex'), true, role);
      assert.equal(caller.canWrite('globex'), role === 'admin', role);
    }
    assert.equal(as('admin').owner, null);
    assert.equal(Caller.system().canWrite('acme'), true);
  });
});

describe('credentials', () => {
  it('takes the Bearer header (a token) first, else the session cookie (a session id)', () => {
    const bearer = (secret: string) => ({ via: 'bearer', secret });
    const cookie = (secret: string) => ({ via: 'cookie', secret });
    assert.deepEqual(credentialOf('Bearer vmf_a', 'vmfarm_session=vms_b', 'vmfarm_session'), bearer('vmf_a'));
    assert.deepEqual(credentialOf('bearer   vmf_a ', undefined, 'vmfarm_session'), bearer('vmf_a'));
    assert.deepEqual(
      credentialOf(undefined, 'theme=dark; vmfarm_session=vms_b', 'vmfarm_session'),
      cookie('vms_b'),
    );
    assert.deepEqual(credentialOf(undefined, 'vmfarm_session=vms%5Fb', 'vmfarm_session'), cookie('vms_b'));
    assert.equal(credentialOf(undefined, 'other=1', 'vmfarm_session'), undefined);
    assert.equal(credentialOf(undefined, undefined, 'vmfarm_session'), undefined);
  });

  it('treats a malformed Authorization header as a credential presented (refused), not as none', () => {
    assert.deepEqual(credentialOf('Basic dXNlcg==', 'vmfarm_session=vms_b', 'vmfarm_session'), {
      via: 'bearer',
      secret: 'Basic dXNlcg==',
    });
  });

  it('makes tokens of the documented shape, and keeps only a sha256 of them', () => {
    const a = newToken();
    assert.equal(tokenSecretSchema.safeParse(a).success, true, a);
    assert.notEqual(newToken(), a);
    assert.match(tokenHash(a), /^[0-9a-f]{64}$/);
    assert.equal(tokenHash(a), tokenHash(a));
  });
});
