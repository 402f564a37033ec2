// The image's HEALTHCHECK: 0 when the process's readiness endpoint answers 200. The entry point
// writes that URL (a master's and a worker's ports differ); a CLI container has none and is
// healthy by definition of having nothing to serve.
'use strict';
const { readFileSync } = require('node:fs');

let url;
try {
  url = readFileSync('/tmp/shipdeck-health-url', 'utf8').trim();
} catch {
  process.exit(0);
}
fetch(url, { signal: AbortSignal.timeout(2500) })
  .then((res) => {
    if (res.status !== 200) console.error(`${url} answered ${res.status}`);
    process.exit(res.status === 200 ? 0 : 1);
  })
  .catch((error) => {
    console.error(`${url}: ${error.message}`);
    process.exit(1);
  });
