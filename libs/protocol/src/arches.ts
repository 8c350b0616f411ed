/** The architectures a portable image may be built for (schemas and the plain entry point share it). */
export const ARCHES = ['aarch64', 'aarch32'] as const;
