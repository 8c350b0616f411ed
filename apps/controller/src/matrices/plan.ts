import type { ImageResource, MatrixRequest, SuiteInfo, TargetProfile } from '@vmfarm/protocol';
import type { FieldError } from '../errors';

export interface Cell {
  image: ImageResource;
  target: TargetProfile;
  suite: string;
  /** The cell cannot run (the target does not offer the image's architecture): recorded SKIP, never queued. */
  skip?: string;
}

/** A payload suite of a request: its disk is the image of each of its cells (one per target). */
export interface PlannedPayload {
  image: ImageResource;
}

/**
 * Expands a matrix request into cells, or lists every problem at once: unknown images, targets and
 * suites, suites a target kind cannot run, and suites that refuse a target (`refuse` says why).
 */
export function planMatrix(
  request: MatrixRequest,
  images: ReadonlyMap<string, ImageResource>,
  targets: ReadonlyMap<string, TargetProfile>,
  suites: readonly SuiteInfo[],
  refuse: (suite: string, target: TargetProfile) => string | undefined = () => undefined,
  payloads: ReadonlyMap<string, PlannedPayload> = new Map(),
): { cells: Cell[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const suiteById = new Map(suites.map((s) => [s.id, s]));
  const all = request.suites.length === 1 && request.suites[0] === 'all';
  const imageIds = [...new Set(request.images)];
  const targetIds = [...new Set(request.targets)];
  const suiteIds = [...new Set(request.suites)];

  request.images.forEach((sha, i) => {
    if (!images.has(sha)) errors.push({ path: `images.${i}`, message: `unknown image ${sha}` });
  });
  request.targets.forEach((id, i) => {
    if (!targets.has(id)) errors.push({ path: `targets.${i}`, message: `unknown target ${id}` });
  });
  if (!all)
    request.suites.forEach((id, j) => {
      const suite = suiteById.get(id);
      if (!suite) {
        errors.push({
          path: `suites.${j}`,
          message: `unknown suite ${id}${id === 'all' ? " ('all' must be alone)" : ''}`,
        });
        return;
      }
      for (const t of targetIds) {
        const target = targets.get(t);
        if (target && !suite.targetKinds.includes(target.kind))
          errors.push({
            path: `suites.${j}`,
            message: `suite ${id} cannot run on target ${t} (kind ${target.kind}; it needs ${suite.targetKinds.join(' or ') || 'nothing available'})`,
          });
      }
    });
  request.targets.forEach((t, i) => {
    const target = targets.get(t);
    if (!target) return;
    if (all && !suites.some((s) => s.targetKinds.includes(target.kind)))
      errors.push({ path: `targets.${i}`, message: `no suite can run on target ${t} (kind ${target.kind})` });
  });
  if (errors.length > 0) return { cells: [], errors };

  const cells: Cell[] = [];
  for (const sha of imageIds)
    for (const t of targetIds) {
      const target = targets.get(t)!;
      const ids = all ? suites.filter((s) => s.targetKinds.includes(target.kind)).map((s) => s.id) : suiteIds;
      const image = images.get(sha)!;
      // A mixed matrix (aarch64 and aarch32 images × targets of both) is normal: the pairs that
      // cannot meet are cells of the matrix, SKIP with the reason, rather than a refused request.
      const skip =
        image.arch && !target.arch.includes(image.arch)
          ? `image ${sha.slice(0, 12)} is ${image.arch} but target ${t} offers ${target.arch.join(', ')}`
          : undefined;
      for (const suite of ids)
        if (!payloads.has(suite)) cells.push({ image, target, suite, ...(skip ? { skip } : {}) });
    }
  // A payload brings its own disk: one cell per target, whatever images the request names.
  if (!all)
    for (const suite of suiteIds) {
      const payload = payloads.get(suite);
      if (payload)
        for (const t of targetIds) cells.push({ image: payload.image, target: targets.get(t)!, suite });
    }
  if (cells.length === 0)
    return {
      cells,
      errors: [{ path: 'images', message: 'no cells: name at least one image, or a payload as a suite' }],
    };
  const refused = new Set<string>();
  for (const { target, suite } of cells) {
    const why = refuse(suite, target);
    if (why && !refused.has(`${suite}/${target.id}`)) {
      refused.add(`${suite}/${target.id}`);
      errors.push({ path: `targets.${request.targets.indexOf(target.id)}`, message: why });
    }
  }
  return errors.length ? { cells: [], errors } : { cells, errors };
}

/**
 * How many cells a request asks for, from its targets alone (images not yet looked up): checked
 * against the cell limit before anything else is done for it. Unknown targets count nothing.
 */
export function cellCount(
  request: MatrixRequest,
  targets: ReadonlyMap<string, TargetProfile>,
  suites: readonly SuiteInfo[],
): number {
  const all = request.suites.length === 1 && request.suites[0] === 'all';
  const perImage = [...new Set(request.targets)].reduce((n, t) => {
    const target = targets.get(t);
    if (!target) return n;
    return (
      n +
      (all ? suites.filter((s) => s.targetKinds.includes(target.kind)).length : new Set(request.suites).size)
    );
  }, 0);
  return new Set(request.images).size * perImage;
}
