#!/usr/bin/env node
/** The ark-e2ee command line. Results go to stdout; progress, warnings and errors to stderr. */
import { UsageError, type CliIO } from './command.js';
import { COMMANDS } from './commands/index.js';
function overallHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: ark-e2ee <command> [options]

Volcengine Ark application-layer encryption from the command line.

Commands:
${lines.join('\n')}

Run "ark-e2ee <command> --help" for a command's options.
Exit codes: 0 success; 1 the command failed (an HTTP or encryption error, a failed check);
2 bad usage or unreadable input.`;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    const names = COMMANDS.map((c) => c.name).join(', ');
    io.stderr.write(`ark-e2ee: give a command (${names}); run "ark-e2ee --help" for what each does\n`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${overallHelp()}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`ark-e2ee: unknown command "${name}"; run "ark-e2ee --help" for the commands\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      // One line: what is wrong and where the help is, not the whole help.
      io.stderr.write(`ark-e2ee ${name}: ${(error as Error).message}; run "ark-e2ee ${name} --help" for usage\n`);
      return 2;
    }
    const code = (error as { code?: string }).code;
    io.stderr.write(`ark-e2ee ${name}: ${code ? `${code}: ` : ''}${(error as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ark-e2ee: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
