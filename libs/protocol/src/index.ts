export * from './clauses';
export * from './verdict';
export * from './report';
export * from './render';
export * from './api';
export * from './queue';
export * from './target';
export * from './requirements';
