// Summary of the last mutation run (reports/mutation/mutation.json, written by `npm run mutate`):
// per file, killed + timed out / survived / no coverage / marked equivalent / score (and how many
// were left out as reached only while modules load), then each surviving or uncovered mutant
// with its line, mutator and replacement.
//   node scripts/mutation-summary.mjs [report.json]
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'reports/mutation/mutation.json', 'utf8'));
const shown = new Set(['Survived', 'NoCoverage']);

for (const [file, { mutants }] of Object.entries(report.files)) {
  const count = (...statuses) => mutants.filter((m) => statuses.includes(m.status)).length;
  const detected = count('Killed', 'Timeout');
  const survived = count('Survived');
  const uncovered = count('NoCoverage');
  const ignored = mutants.filter((m) => m.status === 'Ignored');
  const atLoad = ignored.filter((m) => (m.statusReason ?? '').startsWith('Static mutant')).length;
  const marked = ignored.length - atLoad;
  const valid = detected + survived + uncovered;
  const score = valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(1)}%`;
  console.log(`${file}: ${detected} / ${survived} / ${uncovered} / ${marked} / ${score}${atLoad > 0 ? ` (${atLoad} reached only at load, left out)` : ''}`);
  for (const m of mutants.filter((m) => shown.has(m.status)).sort((a, b) => a.location.start.line - b.location.start.line)) {
    const replacement = (m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 100);
    console.log(`  ${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} -> ${replacement}`);
  }
}
