export * from './suite';
export * from './registry';
export { staticSuite, REMOVABLE_PATHS } from './static';
