/**
 * fast-check settings of the fuzz tests: a fixed seed (FUZZ_SEED, default 42) so a CI run is
 * reproducible, and a modest number of runs per property unless FUZZ_RUNS says otherwise
 * (`npm run fuzz` sets 20 000). A failure prints its seed and path, to replay with FUZZ_SEED.
 */
export const FUZZ_SEED = Number.parseInt(process.env.FUZZ_SEED ?? '', 10) || 42;
const FUZZ_RUNS = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10) || undefined;

/** Parameters for `fc.assert`: the seed, and `defaultRuns` or FUZZ_RUNS. */
export function fuzzParameters(defaultRuns: number): { seed: number; numRuns: number } {
  return { seed: FUZZ_SEED, numRuns: FUZZ_RUNS ?? defaultRuns };
}

/** A test timeout that grows with the number of runs (`msPerRun` on a slow machine). */
export function fuzzTimeout(defaultRuns: number, msPerRun: number): number {
  return Math.max(30_000, fuzzParameters(defaultRuns).numRuns * msPerRun * 2);
}
