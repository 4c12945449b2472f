/** Every `ark-e2ee` command, in the order `--help` lists them. One line each. */
import type { Command } from '../command.js';
import { vectorsCommand } from './vectors.js';

export const COMMANDS: Command[] = [vectorsCommand];
