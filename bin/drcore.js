#!/usr/bin/env node
// Launcher. The CLI is TypeScript run by the project's own Node 24 (node_modules/node, installed by
// npm ci), whichever `node` the shell found: on another version it runs itself again on that one,
// so `drcore` works from any directory and any PATH (README, "Install").
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
// a namespace import: Node 20 (which only relaunches) has no enableCompileCache to import by name
import * as nodeModule from 'node:module'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// import.meta.url is this file's real path, even when it is run through a symlink on the PATH
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bundled = join(root, 'node_modules', 'node', 'bin', 'node')
const bundledVersion = (() => {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', 'node', 'package.json'), 'utf8')).version
  } catch {
    return undefined
  }
})()

/**
 * Commands that stream a volume through the process run with a small V8 young generation. V8
 * grows each of its two semi-spaces to 32 MiB over a long run of short-lived per-chunk objects,
 * and both end up resident: 30-40 MB of a backup's peak RSS (docs/benchmarks.md, "Peak memory").
 * The flag can only be given when Node starts. An operator's own --max-semi-space-size is kept.
 */
const SMALL_YOUNG_GENERATION = ['backup', 'restore']
const SEMI_SPACE_FLAG = '--max-semi-space-size=4'
const wantsSmallYoung = SMALL_YOUNG_GENERATION.includes(process.argv[2]) &&
  !process.execArgv.some(arg => arg.startsWith('--max-semi-space-size'))

if (bundledVersion !== undefined && bundledVersion !== process.versions.node && existsSync(bundled) &&
    process.env.DRCORE_RELAUNCHED !== bundledVersion) {
  const child = spawn(bundled, [...(wantsSmallYoung ? [SEMI_SPACE_FLAG] : []), fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    // the guard: should the bundled binary not be the version its package says, it runs as it is
    env: { ...process.env, DRCORE_RELAUNCHED: bundledVersion }
  })
  // Ctrl-C reaches the whole foreground process group, the child included: this process only waits
  // for it; a signal sent to this process alone (kill, a service manager) is passed on
  process.on('SIGINT', () => {})
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(signal, () => child.kill(signal))
  child.on('error', err => {
    process.stderr.write(`drcore: cannot run the project's Node ${bundled}: ${err.message} (run npm ci in ${root})\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + ({ SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGHUP: 1 }[signal] ?? 0))
  })
} else {
  const [major, minor] = process.versions.node.split('.').map(Number)
  if (major < 22 || (major === 22 && minor < 18)) {
    process.stderr.write(`drcore: Node.js ${process.versions.node} is too old and the project's own Node is missing; run npm ci in ${root}\n`)
    process.exit(1)
  }
  if (wantsSmallYoung && typeof process.execve === 'function') {
    // replace this process (execve: the same pid and file descriptors, so a signal to it still
    // reaches the backup) with a Node started with the flag
    try {
      process.execve(process.execPath, [process.execPath, SEMI_SPACE_FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], process.env)
    } catch {
      // not replaced (the call failed before the exec): run as it is, with the default heap
    }
  }
  // Every command compiles (and strips the types of) a few hundred modules: about 0.4 s of CPU a
  // command that V8's code cache saves from the second run on. The cache is the user's own
  // (~/.cache/drcore/compile), never a directory other users can write; without a writable home
  // it is simply not used.
  try {
    nodeModule.enableCompileCache?.(join(homedir(), '.cache', 'drcore', 'compile'))
  } catch {}
  await import('../src/cli/main.ts')
}
