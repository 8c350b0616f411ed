export * from './process';
export * from './redis';
export * from './supervisor';
