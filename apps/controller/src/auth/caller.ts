import type { Role } from '@vmfarm/protocol';

export interface Identity {
  id: string;
  name: string;
  role: Role;
  /** A vendor's tenant; null for every other role. */
  tenant: string | null;
}

/**
 * Who is calling and what they may see and change. Rows carry an `owner` (a tenant, or null for
 * admin-made, public rows): a vendor sees its own and public rows and changes only its own; admins,
 * viewers and agents see every row (the route rules keep viewers and agents from changing any).
 */
export class Caller {
  constructor(readonly identity: Identity) {}

  /** The controller itself, for work no request asked for (schedules, say). */
  static system(): Caller {
    return new Caller({ id: 'system', name: 'controller', role: 'admin', tenant: null });
  }

  get role(): Role {
    return this.identity.role;
  }

  /** The one tenant whose rows (plus public ones) this caller sees; undefined: every row. */
  get scope(): string | undefined {
    // A vendor without a tenant (never made by the API) would see public rows only.
    return this.identity.role === 'vendor' ? (this.identity.tenant ?? '') : undefined;
  }

  canRead(owner: string | null): boolean {
    const scope = this.scope;
    return scope === undefined || owner === null || owner === scope;
  }

  canWrite(owner: string | null): boolean {
    if (this.role === 'admin') return true;
    return this.role === 'vendor' && owner === this.identity.tenant;
  }

  /** The owner of what this caller creates: its tenant, or null (public) for an admin. */
  get owner(): string | null {
    return this.role === 'vendor' ? this.identity.tenant : null;
  }
}
