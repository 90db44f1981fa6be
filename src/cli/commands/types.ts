import type { Command } from 'commander';
import type { CliIO } from '../context.ts';

/** Each command file exports one of these; index.ts lists them in the order help shows them. */
export type RegisterCommand = (program: Command, io: CliIO) => Command;
