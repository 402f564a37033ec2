export * from './lib/shutdown';
export * from './lib/listen';
