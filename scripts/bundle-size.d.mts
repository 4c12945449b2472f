import type { BuildResult, Metafile, OutputFile } from 'esbuild';

export interface Size {
  minified: number;
  gzipped: number;
}
export interface Measurement {
  initial: Size;
  total: Size;
  chunks: number;
  inputs: { path: string; bytes: number }[];
}
export function bundleForBrowser(entry: string): Promise<BuildResult & { outputFiles: OutputFile[]; metafile: Metafile }>;
export function bundleAppForBrowser(contents: string): Promise<BuildResult & { outputFiles: OutputFile[]; metafile: Metafile }>;
export function measure(contents: string): Promise<Measurement>;
export const ENCRYPTED_FETCH_APP: string;
export const WHOLE_BROWSER_ENTRY: string;
