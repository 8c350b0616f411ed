export * from './process';
export * from './redis';
export * from './redis-connection';
export * from './supervisor';
