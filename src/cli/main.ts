#!/usr/bin/env node
/** The ark-e2ee command line. Results go to stdout; progress, warnings and errors to stderr. */
import { vectorsCommand, VECTORS_HELP } from './vectors-command.js';

const HELP = `Usage: ark-e2ee <command> [options]

Volcengine Ark application-layer encryption from the command line.

Commands:
  vectors [PATH…]   run test-vector files through the library on both backends

Run "ark-e2ee <command> --help" for a command's options.
Exit codes: 0 success, 1 the command's check failed, 2 bad usage or input.`;

const COMMANDS: Record<string, { help: string; run: (args: string[]) => Promise<number> }> = {
  vectors: { help: VECTORS_HELP, run: (args) => vectorsCommand(args, process.stdout, process.stderr) },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`ark-e2ee: unknown command "${name}"\n\n${HELP}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ark-e2ee: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
