export * from './accepts';
export * from './config';
export * from './driver';
export * from './hotplug';
export * from './parse';
export * from './probe';
export * from './profile';
export * from './session';
