export { runCli, EXIT, DEFAULT_SERVER, type CliContext } from './lib/run-cli';
export { parseCommandLine, usage, UsageError, COMMANDS, type Invocation, type CommandName, type Flags } from './lib/args';
export type { TextSink } from './lib/session';
