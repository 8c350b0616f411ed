export * from './accepts';
export * from './cmdline';
export * from './errors';
export * from './probe';
export * from './profile';
export * from './qemu';
export * from './qmp';
