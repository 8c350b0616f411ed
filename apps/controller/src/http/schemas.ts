import { artifactSchema, sha256Schema, targetIdSchema } from '@vmfarm/protocol';
import { z } from 'zod';

/** Route parameter and query schemas of the controller (bodies come from @vmfarm/protocol). */
export const shaParams = z.object({ sha256: sha256Schema });
export const targetParams = z.object({ id: targetIdSchema });
export const idParams = z.object({ id: z.string().min(1).max(64) });
export const attemptParams = z.object({
  id: z.string().min(1).max(64),
  n: z.coerce.number().int().min(1).max(1000),
});
export const artifactParams = z.object({
  id: idParams.shape.id,
  attempt: attemptParams.shape.n,
  name: artifactSchema.shape.name,
});
export const reportQuery = z.object({ format: z.enum(['json', 'junit']).default('json') });
export const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });
export const matricesQuery = listQuery.extend({ schedule: idParams.shape.id.optional() });
export const okSchema = z.object({ ok: z.literal(true) });
export const healthSchema = z.object({ ok: z.boolean(), database: z.string(), version: z.string() });

/** Content types `PUT /api/images` accepts; the container (gzip, xz) is detected from the bytes. */
export const IMAGE_MEDIA_TYPES = [
  'application/octet-stream',
  'application/gzip',
  'application/x-gzip',
  'application/x-xz',
  'application/x-qemu-disk',
  'application/x-raw-disk-image',
];

/* Schedules, history, certification and events. */
const clauseParam = z.string().min(1).max(64);
export const historyQuery = z.object({
  imageName: z.string().min(1).max(200).optional(),
  targetId: targetIdSchema.optional(),
  clause: clauseParam.optional(),
  /** How many of the newest matching matrices. */
  limit: listQuery.shape.limit,
});
export const trendQuery = z.object({
  scheduleId: idParams.shape.id.optional(),
  imageName: historyQuery.shape.imageName,
  targetId: historyQuery.shape.targetId,
  limit: listQuery.shape.limit,
});
export const againstQuery = z.object({ against: idParams.shape.id.optional() });
export const eventsQuery = z.object({ matrix: idParams.shape.id.optional() });
