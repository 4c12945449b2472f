/** LruMap against a plain model of itself: at most `capacity` entries, the least recently used out first. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/protocol/lru-map.js';

describe('LruMap', () => {
  it('behaves like a list ordered by last use, cut to capacity', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 9 }), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 9 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 80 }), (capacity, ops) => {
        const map = new LruMap<number, number>(capacity);
        const model: [number, number][] = []; // least recently used first
        for (const o of ops) {
          const at = model.findIndex(([key]) => key === o.key);
          if (o.kind === 'get') {
            expect(map.get(o.key)).toBe(at === -1 ? undefined : model[at]![1]);
            if (at !== -1) model.push(...model.splice(at, 1));
          } else if (o.kind === 'delete') {
            expect(map.delete(o.key)).toBe(at !== -1);
            if (at !== -1) model.splice(at, 1);
          } else {
            if (at !== -1) model.splice(at, 1);
            const evicted = model.length >= capacity ? model.shift() : undefined;
            model.push([o.key, o.value]);
            expect(map.set(o.key, o.value)).toEqual(evicted);
          }
          expect(map.size).toBe(model.length);
          expect(map.size).toBeLessThanOrEqual(capacity);
        }
      }),
    );
  });

  it('rejects a capacity that is not a whole number ≥ 1, naming the option', () => {
    for (const capacity of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new LruMap(capacity, 'certificateCacheSize')).toThrow(/certificateCacheSize must be a whole number/);
    }
  });
});
