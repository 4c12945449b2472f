/**
 * Running the child-process scripts of test/load (on the built library) from a test: spawn, read
 * their JSON lines, and see how long they take to exit on their own.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const scriptPath = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

export interface Child {
  process: ChildProcessWithoutNullStreams;
  /** The next line the child prints on stdout (rejects if it exits first). */
  nextLine(): Promise<string>;
  /** Resolves with the exit code (signal: -1) once the child has exited. */
  exited: Promise<number>;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
}

export function startChild(script: string, env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [scriptPath(script)], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const lines: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let ended = false;
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const next = waiting.shift();
    if (next) next.resolve(line);
    else lines.push(line);
  }).on('close', () => {
    ended = true;
    for (const next of waiting.splice(0)) next.reject(new Error(`${script} ended its output early: ${stderr}`));
  });
  return {
    process: child,
    nextLine: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.reject(new Error(`${script} ended its output early: ${stderr}`));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    exited,
    stderr: () => stderr,
  };
}

/**
 * Runs a script to its end: its first output line as JSON, and how long it took to exit on its
 * own after printing it (`Infinity`, and the child killed, if not within `exitWithinMs`).
 */
export async function runChild<T>(
  script: string,
  env: Record<string, string> = {},
  exitWithinMs = 10_000,
): Promise<{ result: T; exitMs: number; code: number | undefined }> {
  const child = startChild(script, env);
  try {
    const line = await child.nextLine();
    const printed = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      child.exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), exitWithinMs);
      }),
    ]);
    clearTimeout(timer);
    const exitMs = code === undefined ? Number.POSITIVE_INFINITY : performance.now() - printed;
    return { result: JSON.parse(line) as T, exitMs, code };
  } finally {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill();
  }
}
