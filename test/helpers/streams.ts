/** Byte sources for stream tests. */

/** A source that hands out `bytes` cut at `cuts` (byte offsets), one piece per pull. */
export function sourceOf(bytes: Uint8Array, cuts: readonly number[] = []): ReadableStream<Uint8Array> {
  const ends = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length)), bytes.length].sort((a, b) => a - b);
  let start = 0;
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      const end = ends[next++];
      if (end === undefined) return controller.close();
      controller.enqueue(bytes.slice(start, end));
      start = end;
    },
  });
}
