import { runCli } from '@shipdeck/cli';

declare const SHIPDECK_VERSION: string;

void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  version: SHIPDECK_VERSION,
}).then((code) => {
  process.exitCode = code;
});
