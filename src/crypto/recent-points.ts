/**
 * RecentPoints: the peer public keys a backend met recently, each decoded (and validated) once,
 * with a hook on its second use, where the noble backend builds the point's multiplication
 * tables: every request agrees with the same peer key (the model certificate's), while a key used
 * once (a test vector, a certificate seen for one request) should not pay for tables. At most
 * `capacity` points are kept, the least recently used dropped first, its tables with it.
 */
export class RecentPoints<P> {
  /** A Map iterates in insertion order: "used" means deleted and set again. */
  private readonly points = new Map<string, { point: P; uses: number }>();

  constructor(
    private readonly capacity: number,
    private readonly decode: (bytes: Uint8Array) => P,
    private readonly onSecondUse: (point: P) => void,
  ) {}

  get size(): number {
    return this.points.size;
  }

  /** The point of `bytes`, decoded on first use; what `decode` throws passes through, nothing kept. */
  get(bytes: Uint8Array): P {
    const id = String.fromCharCode(...bytes);
    const known = this.points.get(id);
    if (known !== undefined) {
      this.points.delete(id);
      this.points.set(id, known);
      if (++known.uses === 2) this.onSecondUse(known.point);
      return known.point;
    }
    const point = this.decode(bytes);
    this.points.set(id, { point, uses: 1 });
    if (this.points.size > this.capacity) this.points.delete(this.points.keys().next().value!);
    return point;
  }
}
