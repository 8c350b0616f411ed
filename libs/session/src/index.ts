export * from './errors';
export * from './hotplug';
export * from './live';
export * from './platform';
export * from './session';
export * from './target';
export { GuestConsole } from './console';
export { Waits, type WaitContext } from './waits';
