/** Types of scripts/find-chromium.mjs (see there). */
export interface FoundChromium {
  executablePath: string;
  /** 'CHROMIUM_PATH', 'system' or '@sparticuz/chromium'. */
  source: string;
  /** What was passed over on the way, and why. */
  notes: string[];
}
export declare const SYSTEM_CHROMIUM_PATHS: string[];
export declare function findChromium(env?: Record<string, string | undefined>): Promise<FoundChromium | undefined>;
