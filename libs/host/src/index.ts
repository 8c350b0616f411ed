export * from './process';
export * from './redis';
export * from './supervisor';
export * from './redis-connection';
