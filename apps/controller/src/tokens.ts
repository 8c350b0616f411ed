/** Nest injection tokens of the app's adapters and settings. */
export const CONFIG = Symbol('vmfarm.config');
export const IMAGE_STORE = Symbol('vmfarm.image-store');
export const ARTIFACT_STORE = Symbol('vmfarm.artifact-store');
export const RUN_QUEUE = Symbol('vmfarm.run-queue');
export const EVENT_BUS = Symbol('vmfarm.event-bus');
export const SCHEDULER = Symbol('vmfarm.scheduler');
/** The route table the app serves (API, plus a test's additions). */
export const ROUTE_TABLE = Symbol('vmfarm.route-table');
