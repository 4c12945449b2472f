/**
 * lookalikeMember: a member whose name differs from a place §4 encrypts only by letter case
 * (`Content`, `MESSAGES`, `Text`, `URL`, or `meſſages` with a long s). A server that matches JSON
 * names without regard to case reads it as that place (Go's encoding/json does, folding `ſ` to
 * `s` and the Kelvin sign to `k`), and it would go up in plain text: such a request is refused.
 */
import type { JsonObject } from './json.js';

/** The name as a case-insensitive matcher compares it. */
export function folded(name: string): string {
  return name.replaceAll('\u017f', 's').toLowerCase();
}

/** The first member of `object` that is not one of `names` but folds to one of them. */
export function lookalikeMember(object: JsonObject, names: readonly string[]): string | undefined {
  for (const key of Object.keys(object)) {
    if (!names.includes(key) && names.includes(folded(key))) return key;
  }
  return undefined;
}
