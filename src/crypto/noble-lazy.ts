/**
 * What session-crypto.ts loads with `import()` when a session needs noble's P-256 (the noble
 * backend). A module of its own, not noble.ts itself: bundlers keep a module that is imported
 * both statically (select.ts, for the synchronous API) and dynamically in the static chunk, so
 * the dynamic import would split nothing off.
 */
export { nobleBackend } from './noble.js';
