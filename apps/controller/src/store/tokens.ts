/** Nest injection token of the Kysely instance. */
export const DB = Symbol('vmfarm.db');
