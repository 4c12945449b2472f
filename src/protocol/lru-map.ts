import { InvalidOptionError } from '../errors.js';

/**
 * A Map that holds at most `capacity` entries, dropping the least recently used: what a
 * long-lived process keeps per (origin, model) must not grow with the number of models it has
 * ever seen (a gateway that routes 100 000 models would otherwise keep 100 000 entries).
 * A Map iterates in insertion order, so "used" means deleted and set again.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number, name = 'capacity') {
    if (!Number.isInteger(capacity) || capacity < 1) throw new InvalidOptionError(`${name} must be a whole number ≥ 1, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, marked as the most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Sets the value as the most recently used; gives the entry it pushed out, if any. */
  set(key: K, value: V): [K, V] | undefined {
    this.entries.delete(key);
    let evicted: [K, V] | undefined;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.entries().next().value!;
      this.entries.delete(oldest[0]);
      evicted = oldest;
    }
    this.entries.set(key, value);
    return evicted;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
