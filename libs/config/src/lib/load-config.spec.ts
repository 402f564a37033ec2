import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { CONFIG_KEYS, envVarName } from './keys';
import { loadConfig } from './load-config';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'shipdeck-config-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function writeYaml(text: string): string {
  mkdirSync(join(home, 'conf'), { recursive: true });
  const file = join(home, 'conf', 'shipdeck.yaml');
  writeFileSync(file, text);
  return file;
}

/** A cluster secret long enough for the rule (tests only). */
const SECRET = 'test-cluster-secret-0123456789abcdef';

/** The ConfigError thrown by loading, for assertions on its message. */
function failure(env: Record<string, string> = {}, strict = false): ConfigError {
  try {
    loadConfig({ home, env, strict });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('gives every default when there is no file and no environment', () => {
    const config = loadConfig({ home, env: {} });
    expect(config).toEqual({
      home,
      server: { port: 4516, workerPort: 8180, hostname: hostname(), host: '127.0.0.1', allowedHosts: [], secureCookies: false, tls: null, trustProxy: false },
      task: {
        inProcessWorker: true,
        maxActiveTasks: 10,
        maxPlanSteps: 10_000,
        queue: { url: null, name: 'shipdeck-tasks', dialect: 'auto' },
        recovery: { dir: join(home, 'work'), takeover: 'off', takeoverAfterMs: 60000 },
        leaseDurationMs: 30_000,
        reconcileIntervalMs: 5_000,
        reconcileAfterMs: 60_000,
        shutdownGracePeriodMs: 30_000,
      },
      db: { url: `file:${join(home, 'data', 'shipdeck.db')}`, file: join(home, 'data', 'shipdeck.db') },
      worker: { connectIntervalMs: 30_000, heartbeatIntervalMs: 2_000, gracePeriodMs: 10_000, pruneAfterMs: 86_400_000, dnsServers: [] },
      channel: { tls: null },
      cluster: { secret: null, insecure: false },
      secrets: { key: null, keyFile: join(home, 'data', 'secrets.key') },
      export: { dir: join(home, 'export') },
      log: { level: 'info', format: 'text' },
    });
  });

  it('answers a deeply frozen object', () => {
    const config = loadConfig({ home, env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.task.queue)).toBe(true);
    expect(Object.isFrozen(config.db)).toBe(true);
  });

  it('the shipped conf/shipdeck.yaml parses to the defaults and mentions every key', () => {
    const shipped = join(__dirname, '..', '..', '..', '..', 'conf', 'shipdeck.yaml');
    mkdirSync(join(home, 'conf'));
    copyFileSync(shipped, join(home, 'conf', 'shipdeck.yaml'));
    const withFile = loadConfig({ home, env: {} });
    rmSync(join(home, 'conf'), { recursive: true });
    expect(withFile).toEqual(loadConfig({ home, env: {} }));
    const text = readFileSync(shipped, 'utf8');
    for (const key of Object.keys(CONFIG_KEYS)) expect(text).toContain(`# ${key.split('.').pop()}:`);
  });
});

describe('loadConfig from YAML and the environment', () => {
  it('reads nested keys and converts units once', () => {
    writeYaml(
      [
        'server:',
        '  port: 8080',
        '  hostname: master-1.example.com',
        'task:',
        '  maxActiveTasks: 3',
        '  leaseDuration: 500ms',
        '  reconcileInterval: 5m',
        '  reconcileAfter: 2h',
        '  queue:',
        '    url: amqps://user:pw@broker:5671',
        '    dialect: rabbitmq',
        '  recovery:',
        '    dir: /var/lib/shipdeck/work',
        'worker:',
        '  connectInterval: 1.5',
        'db:',
        '  url: file:/var/lib/shipdeck/db.sqlite',
        'export:',
        '  dir: ../shared/export',
        'log:',
        '  level: debug',
      ].join('\n'),
    );
    const config = loadConfig({ home, env: {} });
    expect(config.server).toMatchObject({ port: 8080, workerPort: 8180, hostname: 'master-1.example.com' });
    expect(config.task.maxActiveTasks).toBe(3);
    expect(config.task.leaseDurationMs).toBe(500);
    expect(config.task.reconcileIntervalMs).toBe(300_000);
    expect(config.task.reconcileAfterMs).toBe(7_200_000);
    expect(config.task.queue).toEqual({ url: 'amqps://user:pw@broker:5671', name: 'shipdeck-tasks', dialect: 'rabbitmq' });
    expect(config.task.recovery.dir).toBe('/var/lib/shipdeck/work');
    expect(config.worker.connectIntervalMs).toBe(1500);
    expect(config.db).toEqual({ url: 'file:/var/lib/shipdeck/db.sqlite', file: '/var/lib/shipdeck/db.sqlite' });
    expect(config.export.dir).toBe(join(home, '..', 'shared', 'export'));
    expect(config.log.level).toBe('debug');
  });

  it('accepts sections left empty (every key commented out)', () => {
    writeYaml('server:\ntask:\n  queue:\n');
    expect(loadConfig({ home, env: {} }).server.port).toBe(4516);
  });

  it('lets the environment win over the file, and the file over the defaults', () => {
    writeYaml('server:\n  port: 8080\n  workerPort: 9000\ntask:\n  inProcessWorker: true\n');
    const config = loadConfig({
      home,
      env: {
        SHIPDECK_SERVER_PORT: '9090',
        SHIPDECK_TASK_IN_PROCESS_WORKER: 'FALSE',
        SHIPDECK_TASK_QUEUE_URL: 'stomp://broker:61613',
        SHIPDECK_DB_URL: 'postgresql://shipdeck@db/shipdeck?schema=s1',
        SHIPDECK_TASK_LEASE_DURATION: '45',
        SHIPDECK_TASK_MAX_ACTIVE_TASKS: '7',
        SHIPDECK_TASK_RECOVERY_DIR: 'other-work',
        SHIPDECK_CLUSTER_SECRET: SECRET,
      },
    });
    expect(config.server.port).toBe(9090);
    expect(config.server.workerPort).toBe(9000);
    expect(config.task.inProcessWorker).toBe(false);
    expect(config.task.queue.url).toBe('stomp://broker:61613');
    expect(config.db).toEqual({ url: 'postgresql://shipdeck@db/shipdeck?schema=s1', file: null });
    expect(config.task.leaseDurationMs).toBe(45_000);
    expect(config.task.maxActiveTasks).toBe(7);
    expect(config.task.recovery.dir).toBe(join(home, 'other-work'));
    expect(config.cluster).toEqual({ secret: SECRET, insecure: false });
  });

  it('derives every variable name from the key path', () => {
    expect(envVarName('server.port')).toBe('SHIPDECK_SERVER_PORT');
    expect(envVarName('server.workerPort')).toBe('SHIPDECK_SERVER_WORKER_PORT');
    expect(envVarName('task.inProcessWorker')).toBe('SHIPDECK_TASK_IN_PROCESS_WORKER');
    expect(envVarName('task.queue.url')).toBe('SHIPDECK_TASK_QUEUE_URL');
    expect(envVarName('db.url')).toBe('SHIPDECK_DB_URL');
    // Every key is reachable from the environment.
    for (const key of Object.keys(CONFIG_KEYS)) {
      expect(envVarName(key)).toMatch(/^SHIPDECK_[A-Z0-9_]+$/);
    }
  });

  it('an empty variable clears an optional key set in the file', () => {
    writeYaml('task:\n  queue:\n    url: amqp://broker\n');
    expect(loadConfig({ home, env: { SHIPDECK_TASK_QUEUE_URL: '' } }).task.queue.url).toBeNull();
  });

  it('resolves file: database URLs against the installation directory', () => {
    expect(loadConfig({ home, env: { SHIPDECK_DB_URL: 'file:db/x.db' } }).db.file).toBe(join(home, 'db', 'x.db'));
    expect(loadConfig({ home, env: { SHIPDECK_DB_URL: 'file:///srv/x.db' } }).db).toEqual({
      url: 'file:/srv/x.db',
      file: '/srv/x.db',
    });
  });

  it('reads the command channel keys: heartbeat, grace period, DNS servers, TLS files', () => {
    writeYaml(
      [
        'worker:',
        '  heartbeatInterval: 500ms',
        '  gracePeriod: 3s',
        '  dnsServers: [10.0.0.2, "127.0.0.1:5353", "[::1]:53"]',
        'channel:',
        '  tls:',
        '    cert: conf/tls/worker.crt',
        '    key: /etc/shipdeck/worker.key',
        '    ca: conf/tls/ca.crt',
      ].join('\n'),
    );
    const config = loadConfig({ home, env: {} });
    expect(config.worker).toEqual({
      connectIntervalMs: 30_000,
      heartbeatIntervalMs: 500,
      gracePeriodMs: 3_000,
      pruneAfterMs: 86_400_000,
      dnsServers: ['10.0.0.2', '127.0.0.1:5353', '[::1]:53'],
    });
    expect(config.channel.tls).toEqual({
      certFile: join(home, 'conf', 'tls', 'worker.crt'),
      keyFile: '/etc/shipdeck/worker.key',
      caFile: join(home, 'conf', 'tls', 'ca.crt'),
    });
  });

  it('reads worker.dnsServers as a comma-separated list from the environment; empty means the system resolver', () => {
    const env = { SHIPDECK_WORKER_DNS_SERVERS: ' 127.0.0.1:5353, ::1 ' };
    expect(loadConfig({ home, env }).worker.dnsServers).toEqual(['127.0.0.1:5353', '::1']);
    writeYaml('worker:\n  dnsServers: 10.0.0.2\n');
    expect(loadConfig({ home, env: { SHIPDECK_WORKER_DNS_SERVERS: '' } }).worker.dnsServers).toEqual([]);
  });

  it('ignores SHIPDECK_ variables that are not keys', () => {
    expect(() => loadConfig({ home, env: { SHIPDECK_HOME: '/x', SHIPDECK_TEST_DATABASE_URL: 'y' } })).not.toThrow();
  });
});

describe('loadConfig refuses invalid configuration', () => {
  it('names the key, the value and where it came from', () => {
    const error = failure({ SHIPDECK_SERVER_PORT: 'abc' });
    expect(error.message).toBe(
      'invalid configuration: server.port: must be an integer between 1 and 65535 (got "abc" from SHIPDECK_SERVER_PORT)',
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details).toEqual([{ field: 'server.port', message: expect.stringContaining('got "abc"') }]);
  });

  it('names the file and line of a bad YAML value', () => {
    const file = writeYaml('server:\n  port: 70000\n');
    expect(failure().message).toBe(
      `invalid configuration: server.port: must be an integer between 1 and 65535 (got 70000 from ${file} line 2)`,
    );
  });

  it.each([
    ['SHIPDECK_SERVER_PORT', '0', 'server.port: must be an integer between 1 and 65535'],
    ['SHIPDECK_SERVER_WORKER_PORT', '80.5', 'server.workerPort: must be an integer between 1 and 65535'],
    ['SHIPDECK_SERVER_HOSTNAME', 'two words', 'server.hostname: must be a host name'],
    ['SHIPDECK_TASK_IN_PROCESS_WORKER', 'yes', 'task.inProcessWorker: must be true or false'],
    ['SHIPDECK_TASK_MAX_ACTIVE_TASKS', '0', 'task.maxActiveTasks: must be an integer of at least 1'],
    ['SHIPDECK_TASK_MAX_PLAN_STEPS', '0', 'task.maxPlanSteps: must be an integer of at least 1'],
    ['SHIPDECK_TASK_MAX_ACTIVE_TASKS', '2.5', 'task.maxActiveTasks: must be an integer of at least 1'],
    ['SHIPDECK_TASK_QUEUE_URL', 'http://broker', 'task.queue.url: must be a URL starting with amqp://, amqps://, stomp://, stomp+ssl://'],
    ['SHIPDECK_TASK_QUEUE_URL', 'amqp://', 'task.queue.url: must be a URL'],
    ['SHIPDECK_TASK_QUEUE_NAME', 'a/b', 'task.queue.name: must be a queue name'],
    ['SHIPDECK_TASK_QUEUE_DIALECT', 'kafka', 'task.queue.dialect: must be one of auto, artemis, rabbitmq'],
    ['SHIPDECK_TASK_RECOVERY_TAKEOVER', 'sometimes', 'task.recovery.takeover: must be one of off, auto'],
    ['SHIPDECK_TASK_RECOVERY_DIR', '', 'task.recovery.dir: must be a non-empty string'],
    ['SHIPDECK_TASK_LEASE_DURATION', '5x', 'task.leaseDuration: must be a positive duration'],
    ['SHIPDECK_TASK_RECONCILE_INTERVAL', '0s', 'task.reconcileInterval: must be a positive duration'],
    ['SHIPDECK_TASK_RECONCILE_AFTER', '-1', 'task.reconcileAfter: must be a positive duration'],
    ['SHIPDECK_DB_URL', 'mysql://db/x', 'db.url: must be file:PATH'],
    ['SHIPDECK_DB_URL', 'file:', 'db.url: must be file:PATH'],
    ['SHIPDECK_WORKER_CONNECT_INTERVAL', '1d', 'worker.connectInterval: must be a positive duration'],
    ['SHIPDECK_WORKER_HEARTBEAT_INTERVAL', 'often', 'worker.heartbeatInterval: must be a positive duration'],
    ['SHIPDECK_WORKER_GRACE_PERIOD', '0', 'worker.gracePeriod: must be a positive duration'],
    ['SHIPDECK_WORKER_DNS_SERVERS', 'dns.example.com', 'worker.dnsServers: must be a comma-separated list of IP'],
    ['SHIPDECK_WORKER_DNS_SERVERS', '127.0.0.1:99999', 'worker.dnsServers: must be a comma-separated list of IP'],
    ['SHIPDECK_WORKER_DNS_SERVERS', '10.0.0.2,,10.0.0.3', 'worker.dnsServers: must be a comma-separated list of IP'],
    ['SHIPDECK_WORKER_DNS_SERVERS', '[10.0.0.2]:53', 'worker.dnsServers: must be a comma-separated list of IP'],
    ['SHIPDECK_EXPORT_DIR', ' ', 'export.dir: must be a non-empty string'],
    ['SHIPDECK_LOG_LEVEL', 'loud', 'log.level: must be one of error, warn, info'],
    ['SHIPDECK_LOG_FORMAT', 'xml', 'log.format: must be one of text, json'],
  ])('%s=%j', (name, value, expected) => {
    const message = failure({ [name]: value }).message;
    expect(message).toContain(expected);
    expect(message).toContain(`(got ${JSON.stringify(value)} from ${name})`);
  });

  it('hides URL passwords in messages', () => {
    const message = failure({ SHIPDECK_TASK_QUEUE_URL: 'http://shipdeck:s3cret@broker:5672' }).message;
    expect(message).toContain('(got "http://shipdeck:***@broker:5672" from SHIPDECK_TASK_QUEUE_URL)');
    expect(message).not.toContain('s3cret');
  });

  it('refuses values of the wrong YAML type', () => {
    writeYaml('server:\n  port: [1, 2]\ntask:\n  inProcessWorker: "sometimes"\nlog: 5\n');
    const message = failure().message;
    expect(message).toContain('server.port: must be an integer between 1 and 65535 (got [1,2] from');
    expect(message).toContain('task.inProcessWorker: must be true or false (got "sometimes" from');
    expect(message).toContain('log: must be a mapping of keys (got 5 from');
  });

  it('reports every problem at once, in one error', () => {
    writeYaml('server:\n  port: abc\n');
    const error = failure({ SHIPDECK_LOG_LEVEL: 'loud', SHIPDECK_TASK_LEASE_DURATION: 'soon' });
    expect(error.details.map((d) => d.field).sort()).toEqual(['log.level', 'server.port', 'task.leaseDuration']);
    expect(error.message.match(/; /g)).toHaveLength(2);
  });

  it('warns about unknown keys and SHIPDECK_* variables, suggesting the closest known one', () => {
    const file = writeYaml('server:\n  prot: 4516\n');
    const warnings: string[] = [];
    const env = {
      SHIPDECK_SERVER_PROT: '1',
      SHIPDECK_SERVER: 'http://x',
      // The credentials a shell running the CLI and a master has set are not configuration keys.
      SHIPDECK_TOKEN: 't',
      SHIPDECK_PASSWORD: 'p',
      SHIPDECK_ADMIN_PASSWORD: 'a',
      SHIPDECK_CLUSTER_SECRET: SECRET,
      // Read by the Docker image's entrypoint, and exported from artemis-broker/start-local env.
      SHIPDECK_WORKER_HEALTH_PORT: '4517',
      SHIPDECK_ARTEMIS_MASTER_AMQP_URL: 'amqp://x',
      SHIPDECK_TEST_DATABASE_URL: 'x',
      SHIPDECK_ZZZ_QQQ_WWW: '1',
    };
    const config = loadConfig({ home, env, onWarning: (w) => warnings.push(`${w.field}: ${w.message}`) });
    expect(config.server.port).toBe(4516);
    expect(warnings).toEqual([
      `server.prot: unknown key in ${file} line 2 (did you mean server.port?)`,
      'SHIPDECK_SERVER_PROT: unknown environment variable, ignored (did you mean SHIPDECK_SERVER_PORT, key server.port?)',
      'SHIPDECK_ZZZ_QQQ_WWW: unknown environment variable, ignored',
    ]);
    expect(failure({ SHIPDECK_LOG_LEVLE: 'debug' }, true).message).toContain(
      'SHIPDECK_LOG_LEVLE: unknown environment variable, ignored (did you mean SHIPDECK_LOG_LEVEL, key log.level?)',
    );
  });

  it('refuses unknown keys with strict, suggesting the closest known one', () => {
    const file = writeYaml('server:\n  prot: 4516\ntask:\n  in_process_worker: true\n  queue:\n    nmae: q\nbogus: 1\n');
    const message = failure({}, true).message;
    expect(message).toContain(`server.prot: unknown key in ${file} line 2 (did you mean server.port?)`);
    expect(message).toContain('task.in_process_worker: unknown key in');
    expect(message).toContain('(did you mean task.inProcessWorker?)');
    expect(message).toContain('task.queue.nmae: unknown key in');
    expect(message).toContain('(did you mean task.queue.name?)');
    expect(message).toMatch(/bogus: unknown key in \S+ line 7(;|$)/);
  });

  it('suggests the right section for a key put in the wrong one', () => {
    writeYaml('server:\n  maxActiveTasks: 3\n');
    expect(failure({}, true).message).toContain('(did you mean task.maxActiveTasks?)');
  });

  it('names the file and line of YAML that does not parse', () => {
    const file = writeYaml('server:\n  port: 4516\n  port: 4517\n');
    const message = failure().message;
    expect(message).toContain(`cannot parse ${file} line 3`);
    const other = writeYaml('server:\n  port: [4516\nlog:\n');
    expect(failure().message).toMatch(new RegExp(`cannot parse ${other} line \\d`));
  });

  it('refuses a document that is not a mapping', () => {
    writeYaml('- a\n- b\n');
    expect(failure().message).toContain('must be a mapping of keys');
  });

  it('requires a broker and PostgreSQL in cluster mode', () => {
    const message = failure({ SHIPDECK_TASK_IN_PROCESS_WORKER: 'false' }).message;
    expect(message).toContain(
      'task.queue.url: required when task.inProcessWorker is false (from SHIPDECK_TASK_IN_PROCESS_WORKER)',
    );
    expect(message).toContain('db.url: must be a postgres:// URL when task.inProcessWorker is false');
  });

  it('requires all three TLS files or none, naming the missing ones', () => {
    const error = failure({ SHIPDECK_CHANNEL_TLS_CERT: 'conf/tls/node.crt' });
    expect(error.details.map((d) => d.field).sort()).toEqual(['channel.tls.ca', 'channel.tls.key']);
    expect(error.message).toContain(
      'channel.tls.key: required when channel.tls.cert is set: mutual TLS needs a certificate, its key and a CA',
    );
    const two = failure({ SHIPDECK_CHANNEL_TLS_CERT: 'a.crt', SHIPDECK_CHANNEL_TLS_KEY: 'a.key' });
    expect(two.message).toBe(
      'invalid configuration: channel.tls.ca: required when channel.tls.cert, channel.tls.key are set: ' +
        'mutual TLS needs a certificate, its key and a CA (set all three or none)',
    );
  });

  it('requires both HTTPS files or none; with them the session cookie is Secure', () => {
    expect(failure({ SHIPDECK_SERVER_TLS_KEY: 'conf/tls.key' }).message).toBe(
      'invalid configuration: server.tls.cert: required when server.tls.key is set: HTTPS needs a certificate and its key (set both or none)',
    );
    const config = loadConfig({ home, env: { SHIPDECK_SERVER_TLS_CERT: 'conf/tls.crt', SHIPDECK_SERVER_TLS_KEY: '/etc/tls.key' } });
    expect(config.server.tls).toEqual({ certFile: join(home, 'conf', 'tls.crt'), keyFile: '/etc/tls.key' });
    expect(config.server.secureCookies).toBe(true);
    expect(loadConfig({ home, env: {} }).server).toMatchObject({ tls: null, secureCookies: false, trustProxy: false });
  });

  it('reads server.trustProxy as false, a hop count or proxy addresses, and refuses anything else', () => {
    const trust = (value: string) => loadConfig({ home, env: { SHIPDECK_SERVER_TRUST_PROXY: value } }).server.trustProxy;
    expect(trust('false')).toBe(false);
    expect(trust('2')).toBe(2);
    expect(trust('127.0.0.1, 10.0.0.0/8,loopback,::1/128')).toEqual(['127.0.0.1', '10.0.0.0/8', 'loopback', '::1/128']);
    writeYaml('server:\n  trustProxy: [10.1.2.3]\n');
    expect(loadConfig({ home, env: {} }).server.trustProxy).toEqual(['10.1.2.3']);
    for (const bad of ['true', '0', 'proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/1']) {
      expect(failure({ SHIPDECK_SERVER_TRUST_PROXY: bad }).details[0]).toEqual({
        field: 'server.trustProxy',
        message: expect.stringContaining('must be false, a number of proxy hops'),
      });
    }
  });

  describe('cluster authentication', () => {
    const cluster = {
      SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
      SHIPDECK_TASK_QUEUE_URL: 'amqp://broker:5672',
      SHIPDECK_DB_URL: 'postgres://db/shipdeck',
    };

    it('refuses a cluster with neither a secret nor TLS unless it is explicitly insecure', () => {
      const error = failure(cluster);
      expect(error.details.map((d) => d.field)).toEqual(['cluster.secret']);
      expect(error.message).toContain('cluster.secret: required when task.inProcessWorker is false');
      expect(error.message).toContain('SHIPDECK_CLUSTER_SECRET');
      expect(error.message).toContain('cluster.insecure: true');
      expect(loadConfig({ home, env: { ...cluster, SHIPDECK_CLUSTER_INSECURE: 'true' } }).cluster).toEqual({ secret: null, insecure: true });
    });

    it('accepts a cluster authenticated by a secret or by mutual TLS', () => {
      expect(loadConfig({ home, env: { ...cluster, SHIPDECK_CLUSTER_SECRET: SECRET } }).cluster.secret).toBe(SECRET);
      const tls = { SHIPDECK_CHANNEL_TLS_CERT: 'a.crt', SHIPDECK_CHANNEL_TLS_KEY: 'a.key', SHIPDECK_CHANNEL_TLS_CA: 'ca.crt' };
      expect(loadConfig({ home, env: { ...cluster, ...tls } }).cluster).toEqual({ secret: null, insecure: false });
    });

    it('does not need a secret in the embedded default', () => {
      expect(loadConfig({ home, env: {} }).cluster).toEqual({ secret: null, insecure: false });
    });

    it('refuses a short secret without ever showing it', () => {
      const short = 'hunter2-is-not-long-enough';
      const error = failure({ SHIPDECK_CLUSTER_SECRET: short });
      expect(error.message).toContain('cluster.secret: must be a string of at least 32 characters');
      expect(error.message).toContain('got a value that is not shown from SHIPDECK_CLUSTER_SECRET');
      expect(error.message).not.toContain(short);
      expect(JSON.stringify(error.details)).not.toContain(short);
    });
  });

  it('refuses a grace period that is not longer than the heartbeat interval', () => {
    const message = failure({ SHIPDECK_WORKER_HEARTBEAT_INTERVAL: '10s' }).message;
    expect(message).toContain('worker.gracePeriod: must be longer than worker.heartbeatInterval (10000 ms from');
  });

  it('checks cluster-mode rules even when other keys are also invalid', () => {
    const message = failure({ SHIPDECK_TASK_IN_PROCESS_WORKER: 'false', SHIPDECK_SERVER_PORT: 'x' }).message;
    expect(message).toContain('server.port:');
    expect(message).toContain('task.queue.url: required');
  });
});
