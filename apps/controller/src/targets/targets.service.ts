import { Inject, Injectable } from '@nestjs/common';
import { targetProfileSchema, type TargetProfile } from '@vmfarm/protocol';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import type { ControllerConfig } from '../config';
import { badRequest, conflict, notFound, type FieldError } from '../errors';
import type { targetCreateSchema } from '@vmfarm/protocol';
import { TargetsRepository } from '../store/targets.repository';
import { CONFIG } from '../tokens';

export type TargetCreate = z.infer<typeof targetCreateSchema>;

/** Reads the bundled base profiles; a broken file stops the controller with the file named. */
export function loadBaseProfiles(dir: string): TargetProfile[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const parsed = targetProfileSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
      if (!parsed.success)
        throw new Error(`invalid target profile ${file}: ${parsed.error.issues[0].message}`);
      return parsed.data;
    });
}

/** A user profile over its base: the fields it gives win, the rest are inherited. */
export function resolveProfile(input: TargetCreate, base: TargetProfile | undefined): TargetProfile {
  const errors: FieldError[] = [];
  if (input.extends && !base)
    errors.push({ path: 'extends', message: `unknown base target '${input.extends}'` });
  if (!input.kind && !base)
    errors.push({ path: 'kind', message: 'required unless `extends` names a base target' });
  if (errors.length) throw badRequest('invalid target profile', errors);
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const { extends: _inherited, ...inherited } = base ?? ({} as Partial<TargetProfile>);
  return targetProfileSchema.parse({ ...inherited, ...given });
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

  async list(): Promise<TargetProfile[]> {
    return [...this.bases.values(), ...(await this.targets.list())];
  }

  async find(id: string): Promise<TargetProfile | undefined> {
    return this.bases.get(id) ?? (await this.targets.get(id));
  }

  async get(id: string): Promise<TargetProfile> {
    const found = await this.find(id);
    if (!found) throw notFound(`no target ${id}`);
    return found;
  }

  async create(input: TargetCreate): Promise<TargetProfile> {
    const base = input.extends ? await this.find(input.extends) : undefined;
    const profile = resolveProfile(input, base);
    if (this.bases.has(profile.id) || !(await this.targets.insert(profile, new Date().toISOString())))
      throw conflict(`target ${profile.id} already exists`);
    return profile;
  }
}
