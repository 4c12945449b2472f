/** Every `ark-e2ee` command, in the order `--help` lists them. One line each. */
import type { Command } from '../command.js';
import { certCommand } from './cert.js';
import { chatCommand } from './chat.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { serveCommand } from './serve.js';
import { proxyCommand } from './proxy.js';
import { vectorsCommand } from './vectors.js';

export const COMMANDS: Command[] = [chatCommand, serveCommand, certCommand, proxyCommand, doctorCommand, demoCommand, vectorsCommand];
