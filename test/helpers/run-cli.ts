/** The built ark-e2ee command line, spawned as a user would, with only PATH and HOME from outside. */
import { execFile } from 'node:child_process';

const root = new URL('../..', import.meta.url);
export const CLI = new URL('dist/cli/main.js', root).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], home: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('node', [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: home, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
