#!/usr/bin/env node
/**
 * Writes docs/cli.md from the CLI's own --help texts, so the document cannot drift from the
 * program (test/cli-doc.test.ts checks it is up to date). Run after `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const cli = (args) => execFileSync('node', ['dist/cli/main.js', ...args], { encoding: 'utf8' });

export function renderCliDoc() {
  const overall = cli(['--help']);
  const names = [...overall.matchAll(/^ {2}(\w+) {2}/gm)].map((m) => m[1]);
  const sections = names.map((name) => `## ark-e2ee ${name}\n\n\`\`\`text\n${cli([name, '--help']).trimEnd()}\n\`\`\`\n`);
  return `# The ark-e2ee command line

Installed with the package as \`ark-e2ee\` (\`npx ark-e2ee …\`). Results go to stdout; progress,
warnings and errors to stderr. This page is generated from the program's own \`--help\`
(\`npm run docs:cli\`).

\`\`\`text
${overall.trimEnd()}
\`\`\`

${sections.join('\n')}`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  writeFileSync('docs/cli.md', renderCliDoc());
}
