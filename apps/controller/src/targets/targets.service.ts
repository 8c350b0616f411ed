import { Inject, Injectable } from '@nestjs/common';
import {
  hostPathsNamed,
  plainTextSchema,
  resolveTargetProfiles,
  targetProfileSchema,
  type TargetCreate,
  type TargetProfile,
} from '@vmfarm/protocol';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Caller } from '../auth/caller';
import type { ControllerConfig } from '../config';
import { ApiHttpError, badRequest, conflict, notFound, type FieldError } from '../errors';
import { TargetsRepository } from '../store/targets.repository';
import { CONFIG } from '../tokens';

export type { TargetCreate };

/**
 * Reads the bundled profiles (static and qemu, `extends` resolved among them); a broken file stops
 * the controller naming the file and every problem.
 */
export function loadBaseProfiles(dir: string): TargetProfile[] {
  if (!fs.existsSync(dir)) return [];
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const inputs = files.map((f) => {
    const file = path.join(dir, f);
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`invalid target profile ${file}: ${(err as Error).message}`);
    }
  });
  const { profiles, errors } = resolveTargetProfiles(inputs);
  if (errors.length) {
    const fileOf = (id: string) => files[inputs.findIndex((i) => i.id === id)] ?? id;
    throw new Error(
      `invalid target profiles in ${dir}: ${errors.map((e) => `${fileOf(e.path.split('.')[0])}: ${e.path}: ${e.message}`).join('; ')}`,
    );
  }
  return profiles;
}

/** A user profile over its base: the fields it gives win, the rest are inherited; every problem is a 400. */
export function resolveProfile(input: TargetCreate, base: TargetProfile | undefined): TargetProfile {
  const errors: FieldError[] = [];
  if (input.extends && !base)
    errors.push({ path: 'extends', message: `unknown base target '${input.extends}'` });
  if (!input.kind && !base)
    errors.push({ path: 'kind', message: 'required unless `extends` names a base target' });
  if (errors.length) throw badRequest('invalid target profile', errors);
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const { extends: _inherited, ...inherited } = base ?? ({} as Partial<TargetProfile>);
  const parsed = targetProfileSchema.safeParse({ ...inherited, ...given });
  if (!parsed.success)
    throw badRequest(
      `invalid target profile: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`,
      parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  return parsed.data;
}

@Injectable()
export class TargetsService {
  private readonly bases: Map<string, TargetProfile>;

  constructor(
    private readonly targets: TargetsRepository,
    @Inject(CONFIG) config: ControllerConfig,
  ) {
    this.bases = new Map(loadBaseProfiles(config.targetsDir).map((p) => [p.id, p]));
  }

  /** Bundled profiles are public; user profiles are their tenant's. */
  async list(caller: Caller): Promise<TargetProfile[]> {
    return [...this.bases.values(), ...(await this.targets.list(caller))];
  }

  async find(id: string, caller: Caller): Promise<TargetProfile | undefined> {
    return this.bases.get(id) ?? (await this.targets.get(id, caller));
  }

  async get(id: string, caller: Caller): Promise<TargetProfile> {
    const found = await this.find(id, caller);
    if (!found) throw notFound(`no target ${id}`);
    return found;
  }

  async create(input: TargetCreate, caller: Caller): Promise<TargetProfile> {
    // The profile schema is the drivers'; a description is shown to people like a name.
    if (input.description !== undefined && !plainTextSchema(2000).safeParse(input.description).success)
      throw badRequest('invalid target profile: description: must not contain control characters', [
        { path: 'description', message: 'must not contain control characters (at most 2000 characters)' },
      ]);
    // A host path in a profile is a file an agent reads and uploads as an artifact: an admin's choice.
    const paths = hostPathsNamed(input);
    if (paths.length && caller.role !== 'admin')
      throw new ApiHttpError(
        403,
        `only an admin may name a host path in a target profile (${paths.map((p) => `${p.field}: ${p.path}`).join(', ')}); name a file the agents' hosts offer instead, e.g. AAVMF_VARS.ms.fd`,
        paths.map((p) => ({ path: `body.${p.field}`, message: 'a host path: admins only' })),
      );
    const base = input.extends ? await this.find(input.extends, caller) : undefined;
    const profile = resolveProfile(input, base);
    // Ids are one namespace for every tenant: a taken id is a conflict whoever took it.
    if (
      this.bases.has(profile.id) ||
      !(await this.targets.insert(profile, new Date().toISOString(), caller.owner))
    )
      throw conflict(`target ${profile.id} already exists`);
    return profile;
  }
}
