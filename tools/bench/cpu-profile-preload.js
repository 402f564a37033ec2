// Preloaded into masters and workers by `npm run bench -- --cpu-profile DIR` (through NODE_OPTIONS):
// samples the process's JavaScript from its start and writes DIR/<role>-<pid>.cpuprofile when it
// exits (the bench stops its cluster with SIGTERM, which ends each process through process.exit).
// Open the files in Chrome DevTools (Performance) or VS Code. Syscall frames (socket writes,
// fsync) count wall time and are inflated when the machine is busy: the bench's CPU figures,
// read from /proc, are the truth for totals.
'use strict';
const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.SHIPDECK_BENCH_CPU_PROFILE_DIR;
const role = ['master', 'worker'].find((name) => process.argv.includes(name));
if (dir && role) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  // Workers are started with `-name worker-N`; masters by the launcher without a name.
  const named = process.argv.indexOf('-name');
  const file = `${named > 0 ? process.argv[named + 1] : role}-${process.pid}.cpuprofile`;
  process.on('exit', () => {
    // An in-process inspector session answers synchronously: the profile is written before the exit.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, file), JSON.stringify(result.profile));
    });
  });
}
