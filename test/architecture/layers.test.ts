/**
 * The layer rule (docs/architecture.md), checked over the import specifiers of every file in
 * src/: a file imports only from its own layer or a lower one, and protocol/ stays pure (no
 * `node:` modules, no timers, no `fetch`, no `process`, no other I/O). A `#` import (package.json
 * `imports`) is followed to every file it can resolve to under the `ark-e2ee-source` condition,
 * whichever runtime condition applies. The few places that break the rule today are listed in
 * EXCEPTIONS, each with its reason, so that a new one fails here instead of slipping in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  imports: Record<string, unknown>;
};

/**
 * Lowest first. A file may import from a layer of the same or a lower rank. Files at the root of
 * src/ are small helpers below everything (errors.ts, race-abort.ts), except the library entries
 * index.ts, browser.ts and fetch.ts. testing/ (`ark-e2ee/testing`) and cli/ sit on the
 * library: the CLI runs the vectors through the public entry and serves the mock.
 */
const LAYERS = [
  'root',
  'crypto',
  'protocol',
  'certificates',
  'credentials',
  'transport',
  'entry',
  'testing',
  'cli',
] as const;
type Layer = (typeof LAYERS)[number];

const ENTRIES = new Set(['index.ts', 'browser.ts']);

/**
 * Imports that go up, allowed for now, each with why. `from -> to`, both relative to src/.
 * Remove a line when its reason goes; the test fails on a line that no longer matches anything.
 */
const EXCEPTIONS = new Map<string, string>([]);

function layerOf(file: string): Layer {
  const parts = file.split('/');
  if (parts.length === 1) return ENTRIES.has(file) ? 'entry' : 'root';
  const layer = parts[0] as Layer;
  if (!LAYERS.includes(layer)) throw new Error(`src/${file} is in no known layer; add its folder to LAYERS`);
  return layer;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path).split(sep).join('/')] : [];
  });
}

/** Comments out, so that an example in a comment is not taken for an import. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Every specifier of `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const pattern = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of code(text).matchAll(pattern)) found.push((match[1] ?? match[2] ?? match[3])!);
  return found;
}

/** A relative specifier as a path relative to src/, `.js` read as the `.ts` it is built from. */
function target(from: string, specifier: string): string {
  return posix.normalize(posix.join(dirname(from), specifier)).replace(/\.js$/, '.ts');
}

/** Every `./src/…` file a package.json `imports` target can pick, as paths relative to src/. */
function sourceTargets(target: unknown): string[] {
  if (typeof target === 'string') return target.startsWith('./src/') ? [target.slice('./src/'.length)] : [];
  if (target === null || typeof target !== 'object') return [];
  return Object.values(target).flatMap(sourceTargets);
}

/** The files a `#` specifier resolves to in the sources (one per runtime condition). */
function hashTargets(specifier: string): string[] {
  const entry = PACKAGE.imports[specifier];
  if (entry === undefined) throw new Error(`${specifier} is not in package.json imports`);
  const source = (entry as Record<string, unknown>)['ark-e2ee-source'];
  const files = sourceTargets(source);
  if (files.length === 0) throw new Error(`${specifier} has no ark-e2ee-source target in package.json imports`);
  return files;
}

const FILES = sourceFiles(SRC);

interface Edge {
  from: string;
  to: string;
}

const EDGES: Edge[] = FILES.flatMap((from) =>
  specifiers(readFileSync(join(SRC, from), 'utf8')).flatMap((specifier) => {
    if (specifier.startsWith('.')) return [{ from, to: target(from, specifier) }];
    if (specifier.startsWith('#')) return hashTargets(specifier).map((to) => ({ from, to }));
    return [];
  }),
);

function goesUp(edge: Edge): boolean {
  return LAYERS.indexOf(layerOf(edge.to)) > LAYERS.indexOf(layerOf(edge.from));
}

/** Packages protocol/ may use: computation only, no I/O, no timers. */
const PURE_PACKAGES = [
  'eventsource-parser',
  '@noble/hashes',
  '@noble/curves',
  '@noble/ciphers',
];

/** Timers, network, process and I/O globals a pure module must not touch (comments and strings aside). */
function impurities(text: string): string[] {
  const bare = code(text).replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");
  const found: string[] = [];
  const rules: Array<[string, RegExp]> = [
    ['setTimeout', /\bsetTimeout\b/],
    ['setInterval', /\bsetInterval\b/],
    ['setImmediate', /\bsetImmediate\b/],
    ['queueMicrotask', /\bqueueMicrotask\b/],
    ['fetch(', /\bfetch\s*\(/],
    ['globalThis.process', /\bglobalThis\s*\.\s*process\b/],
    ['process.', /(?<![.\w])process\s*[.?[]/],
    ['require(', /\brequire\s*\(/],
    ['WebSocket', /\bWebSocket\b/],
    ['XMLHttpRequest', /\bXMLHttpRequest\b/],
    ['Deno', /\bDeno\b/],
    ['Bun', /\bBun\b/],
  ];
  for (const [name, pattern] of rules) if (pattern.test(bare)) found.push(name);
  return found;
}

describe('layers', () => {
  it('finds the source files and their imports (the scan itself works)', () => {
    expect(FILES).toContain('protocol/session.ts');
    expect(FILES).toContain('transport/encryptor.ts');
    expect(EDGES).toContainEqual({ from: 'protocol/session.ts', to: 'errors.ts' });
    expect(EDGES).toContainEqual({ from: 'transport/encryptor.ts', to: 'transport/session-pool.ts' });
    // `#` imports are followed to the file of each condition.
    expect(EDGES).toContainEqual({ from: 'crypto/select.ts', to: 'crypto/native-node.ts' });
    expect(EDGES).toContainEqual({ from: 'crypto/select.ts', to: 'crypto/native-none.ts' });
    expect(EDGES).toContainEqual({ from: 'transport/encryptor.ts', to: 'certificates/files-node.ts' });
    expect(EDGES).toContainEqual({ from: 'transport/encryptor.ts', to: 'certificates/files-none.ts' });
    for (const edge of EDGES) expect(FILES, `${edge.from} imports ${edge.to}, which does not exist`).toContain(edge.to);
  });

  it('reads every kind of import and ignores commented ones', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "import './d.js';",
      "const e = await import('./e.js');",
      "// import { f } from './f.js';",
      "/* import { g } from './g.js'; */",
    ].join('\n');
    expect(specifiers(text)).toEqual(['./a.js', '../b.js', './c.js', './d.js', './e.js']);
  });

  it('nothing imports from a higher layer, but for the listed exceptions', () => {
    const up = EDGES.filter(goesUp).map((edge) => `${edge.from} -> ${edge.to}`);
    expect(up.filter((edge) => !EXCEPTIONS.has(edge))).toEqual([]);
    // An exception that no longer happens is taken off the list, so the list only shrinks.
    expect([...EXCEPTIONS.keys()].filter((edge) => !up.includes(edge))).toEqual([]);
  });

  it('the layer check catches an import that goes up', () => {
    expect(goesUp({ from: 'protocol/request.ts', to: 'transport/encryptor.ts' })).toBe(true);
    expect(goesUp({ from: 'crypto/node.ts', to: 'protocol/session.ts' })).toBe(true);
    expect(goesUp({ from: 'errors.ts', to: 'crypto/backend.ts' })).toBe(true);
    expect(goesUp({ from: 'transport/encryptor.ts', to: 'protocol/session.ts' })).toBe(false);
    expect(goesUp({ from: 'index.ts', to: 'transport/undici/index.ts' })).toBe(false);
  });

  it('protocol/ is pure: no node: modules, no packages but pure ones, no timers, no fetch, no process, no I/O', () => {
    for (const file of FILES.filter((f) => layerOf(f) === 'protocol')) {
      const text = readFileSync(join(SRC, file), 'utf8');
      const external = specifiers(text).filter((s) => !s.startsWith('.'));
      expect(external.filter((s) => s.startsWith('node:')), file).toEqual([]);
      // `#` imports are the seams to what differs by runtime (node:crypto, the file system).
      expect(external.filter((s) => s.startsWith('#')), file).toEqual([]);
      expect(external.filter((s) => !PURE_PACKAGES.some((name) => s === name || s.startsWith(`${name}/`))), file).toEqual([]);
      expect(impurities(text), file).toEqual([]);
    }
  });

  it('the purity check catches timers, fetch, process and I/O', () => {
    expect(impurities('const t = setTimeout(run, 5);')).toEqual(['setTimeout']);
    expect(impurities('await fetch(url);')).toEqual(['fetch(']);
    expect(impurities('const home = process.env.HOME;')).toEqual(['process.']);
    expect(impurities('const p = globalThis.process;')).toEqual(['globalThis.process']);
    expect(impurities('new WebSocket(url); new XMLHttpRequest();')).toEqual(['WebSocket', 'XMLHttpRequest']);
    expect(impurities("const help = 'fetch the certificate with AICC on'; // process.exit()")).toEqual([]);
  });

  it('CLI commands do not import each other; shared pieces live in src/cli/', () => {
    const between = EDGES.filter(
      (edge) =>
        edge.from.startsWith('cli/commands/') &&
        edge.to.startsWith('cli/commands/') &&
        edge.from !== 'cli/commands/index.ts', // the list of commands
    );
    expect(between.map((edge) => `${edge.from} -> ${edge.to}`)).toEqual([]);
  });

  it('the CLI reads the environment only through io.env (main.ts hands process.env in)', () => {
    const readers = FILES.filter((file) => file.startsWith('cli/') && file !== 'cli/main.ts').filter((file) =>
      /\bprocess\.env\b|\benvironment\(/.test(code(readFileSync(join(SRC, file), 'utf8'))),
    );
    expect(readers).toEqual([]);
  });

  it('one PEM reader: no file but protocol/pem.ts spells a BEGIN line', () => {
    const spelling = FILES.filter((file) => file !== 'protocol/pem.ts' && readFileSync(join(SRC, file), 'utf8').includes('-----BEGIN'));
    expect(spelling).toEqual([]);
  });

  it('one DER reader: no ASN.1 package outside testing/, and only protocol/der.ts decodes an OBJECT IDENTIFIER', () => {
    const asn1Users = FILES.filter(
      (file) => layerOf(file) !== 'testing' && specifiers(readFileSync(join(SRC, file), 'utf8')).some((s) => /^@peculiar\/|^asn1js$|^pkijs$/.test(s)),
    );
    expect(asn1Users).toEqual([]);
    const oidDecoders = FILES.filter((file) => /\bfunction\s+\w*(decodeOid|oidFrom|parseOid|readOid)\w*\s*\(/i.test(code(readFileSync(join(SRC, file), 'utf8'))));
    expect(oidDecoders).toEqual(['protocol/der.ts']);
  });
});
