/**
 * Header forms for the tests of the x-is-encrypted switch: every form fetch and undici accept,
 * built from a list of (name, value) entries, and the switch's rule written independently of
 * src/ (docs/protocol.md §6).
 */
import fc from 'fast-check';
import { Headers as UndiciHeaders } from 'undici';

export type Verdict = 'encrypt' | 'pass' | 'refuse';

/** The rule, independently: the values as given (each may hold a comma list). */
export function expectedVerdict(values: readonly string[]): Verdict {
  if (values.length === 0) return 'pass';
  const items = values.join(',').split(',').map((item) => item.trim().toLowerCase());
  if (items.every((item) => item === 'true')) return 'encrypt';
  if (items.every((item) => item === 'false')) return 'pass';
  return 'refuse';
}

/** A Headers implementation of its own: entries() and get(), no iterator. */
export class OwnHeaders {
  private readonly list: Array<[string, string]> = [];
  append(name: string, value: string): void {
    this.list.push([name, value]);
  }
  get(name: string): string | null {
    const found = this.list.filter(([key]) => key.toLowerCase() === name.toLowerCase());
    return found.length === 0 ? null : found.map(([, value]) => value).join(', ');
  }
  entries(): IterableIterator<[string, string]> {
    return this.list[Symbol.iterator]();
  }
  forEach(callback: (value: string, name: string) => void): void {
    for (const [name, value] of this.list) callback(value, name);
  }
}

export const NAMES = ['x-is-encrypted', 'X-Is-Encrypted', 'X-IS-ENCRYPTED', 'x-Is-encrypted'];
export const VALUES = ['true', 'TRUE', ' true', 'True ', 'false', 'FALSE', '1', '0', 'yes', '', 'true, true', 'false, true', 'true,false', 'true,', 'on', 'tru'];

/** Entries: one header name (in some letter case) and one value each, plus unrelated headers. */
export const switchEntries = fc.array(
  fc.record({ name: fc.constantFrom(...NAMES), value: fc.constantFrom(...VALUES) }),
  { maxLength: 3 },
);

export type HeaderForm = 'Headers' | 'undici Headers' | 'Map' | 'pairs' | 'record' | 'record of arrays' | 'own Headers';
export const headerForms: HeaderForm[] = ['Headers', 'undici Headers', 'Map', 'pairs', 'record', 'record of arrays', 'own Headers'];

/**
 * The entries in one form, or undefined when the form cannot hold them (a Map or a record
 * cannot hold one name twice in the same case; the record of arrays can).
 */
export function buildHeaders(form: HeaderForm, entries: readonly { name: string; value: string }[], extra: Record<string, string> = {}): unknown {
  const all = [...Object.entries(extra).map(([name, value]) => ({ name, value })), ...entries];
  const names = entries.map((e) => e.name);
  const repeated = new Set(names).size !== names.length;
  switch (form) {
    case 'Headers': {
      const headers = new Headers();
      for (const { name, value } of all) headers.append(name, value);
      return headers;
    }
    case 'undici Headers': {
      const headers = new UndiciHeaders();
      for (const { name, value } of all) headers.append(name, value);
      return headers;
    }
    case 'own Headers': {
      const headers = new OwnHeaders();
      for (const { name, value } of all) headers.append(name, value);
      return headers;
    }
    case 'Map':
      return repeated ? undefined : new Map(all.map(({ name, value }) => [name, value]));
    case 'pairs':
      return all.map(({ name, value }) => [name, value]);
    case 'record':
      return repeated ? undefined : Object.fromEntries(all.map(({ name, value }) => [name, value]));
    case 'record of arrays': {
      const record: Record<string, string[]> = {};
      for (const { name, value } of all) (record[name] ??= []).push(value);
      return record;
    }
  }
}

