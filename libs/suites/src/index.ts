export * from './suite';
