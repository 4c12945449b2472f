/** The shape of one `ark-e2ee` sub-command. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

export interface Command {
  name: string;
  /** One line for the overall help. */
  summary: string;
  /** The command's whole `--help` text. */
  help: string;
  /** Resolves with the exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** Thrown for bad usage: printed with the command's help, exit code 2. */
export class UsageError extends Error {}
