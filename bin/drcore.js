#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, run directly by Node >= 22.18 (type stripping).
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`drcore: Node.js ${process.versions.node} is too old; run it through npm (npx drcore) so the project's Node 24 is used\n`)
  process.exit(1)
}
await import('../src/cli/main.ts')
