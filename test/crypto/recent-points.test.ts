/**
 * RecentPoints (src/crypto/recent-points.ts), the noble backend's cache of peer points: a point is
 * decoded once while it is kept, its second use (and only that) builds its tables, at most
 * `capacity` are kept with the least recently used dropped first, and a key that fails to decode
 * is not kept. Checked against a plain model of those rules over random sequences of keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecentPoints } from '../../src/crypto/recent-points.js';

interface Recorded {
  cache: RecentPoints<string>;
  decoded: string[];
  tabled: string[];
}

/** A cache whose "points" are the keys' hex, recording each decode and each second use. */
function recording(capacity: number, refuse: (hex: string) => boolean = () => false): Recorded {
  const decoded: string[] = [];
  const tabled: string[] = [];
  const cache = new RecentPoints<string>(
    capacity,
    (bytes) => {
      const hex = Buffer.from(bytes).toString('hex');
      if (refuse(hex)) throw new RangeError(`not a point: ${hex}`);
      decoded.push(hex);
      return `point ${hex}`;
    },
    (point) => tabled.push(point),
  );
  return { cache, decoded, tabled };
}

const key = (n: number): Uint8Array => Uint8Array.of(4, n);

describe('RecentPoints', () => {
  it('decodes a key once, and calls the second-use hook on its second use only', () => {
    const { cache, decoded, tabled } = recording(4);
    expect(cache.get(key(1))).toBe('point 0401');
    expect(tabled).toEqual([]);
    expect(cache.get(key(1))).toBe('point 0401');
    expect(tabled).toEqual(['point 0401']);
    cache.get(key(1));
    cache.get(key(1));
    expect(decoded).toEqual(['0401']);
    expect(tabled).toEqual(['point 0401']);
  });

  it('keeps `capacity` points: the fifth key of four pushes out the least recently used', () => {
    const { cache, decoded } = recording(4);
    for (const n of [1, 2, 3, 4]) cache.get(key(n));
    expect(cache.size).toBe(4);
    cache.get(key(1)); // 1 is now the most recently used; 2 the least
    cache.get(key(5));
    expect(cache.size).toBe(4);
    expect(decoded).toEqual(['0401', '0402', '0403', '0404', '0405']);
    cache.get(key(1));
    cache.get(key(3));
    expect(decoded).toHaveLength(5); // 1 and 3 were kept
    cache.get(key(2));
    expect(decoded.at(-1)).toBe('0402'); // 2 was dropped, and is decoded again
  });

  it('a key that fails to decode throws what decode threw, and is not kept', () => {
    const { cache } = recording(2, (hex) => hex === '0409');
    expect(() => cache.get(key(9))).toThrow('not a point: 0409');
    expect(cache.size).toBe(0);
    expect(() => cache.get(key(9))).toThrow('not a point: 0409');
  });

  it('keys that differ in any byte are different points', () => {
    const { cache, decoded } = recording(4);
    cache.get(Uint8Array.of(4, 1, 2));
    cache.get(Uint8Array.of(4, 2, 1));
    cache.get(Uint8Array.of(4, 1));
    expect(decoded).toEqual(['040102', '040201', '0401']);
  });

  it('behaves as the model: least recently used dropped, decode while not kept, hook on the second use while kept', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 60 }), (capacity, sequence) => {
        const { cache, decoded, tabled } = recording(capacity);
        const order: number[] = []; // least recently used first
        const uses = new Map<number, number>();
        const expectedDecoded: string[] = [];
        const expectedTabled: string[] = [];
        for (const n of sequence) {
          const hex = Buffer.from(key(n)).toString('hex');
          const at = order.indexOf(n);
          if (at >= 0) {
            order.splice(at, 1);
            order.push(n);
            const count = uses.get(n)! + 1;
            uses.set(n, count);
            if (count === 2) expectedTabled.push(`point ${hex}`);
          } else {
            expectedDecoded.push(hex);
            order.push(n);
            uses.set(n, 1);
            if (order.length > capacity) uses.delete(order.shift()!);
          }
          expect(cache.get(key(n))).toBe(`point ${hex}`);
          expect(cache.size).toBe(order.length);
        }
        expect(decoded).toEqual(expectedDecoded);
        expect(tabled).toEqual(expectedTabled);
      }),
    );
  });
});
