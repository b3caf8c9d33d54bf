#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, run directly by Node >= 22.18 (type stripping).
import { fileURLToPath } from 'node:url'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`drcore: Node.js ${process.versions.node} is too old; run it through npm (npx drcore) so the project's Node 24 is used\n`)
  process.exit(1)
}

/**
 * Commands that stream a volume through the process run with a small V8 young generation. V8
 * grows each of its two semi-spaces to 32 MiB over a long run of short-lived per-chunk objects,
 * and both end up resident: 30-40 MB of a backup's peak RSS (docs/benchmarks.md, "Peak memory").
 * The flag can only be given when Node starts, so the launcher replaces itself (execve: the same
 * process, pid and file descriptors, so a signal to it still reaches the backup) with a Node
 * started with it. An operator's own --max-semi-space-size is kept.
 */
const SMALL_YOUNG_GENERATION = ['backup', 'restore']
const SEMI_SPACE_FLAG = '--max-semi-space-size=4'
if (SMALL_YOUNG_GENERATION.includes(process.argv[2]) && typeof process.execve === 'function' &&
  !process.execArgv.some(arg => arg.startsWith('--max-semi-space-size'))) {
  try {
    process.execve(process.execPath, [process.execPath, SEMI_SPACE_FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], process.env)
  } catch {
    // not replaced (the call failed before the exec): run as it is, with the default heap
  }
}
await import('../src/cli/main.ts')
