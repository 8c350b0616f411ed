/** The test double of the VM-session contract, for tests only (`@vmfarm/session/testing`). */
export * from './fake-vm';
