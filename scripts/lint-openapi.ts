/**
 * `npm run lint:openapi [-- <redocly lint options>]`: writes the OpenAPI document as the daemon
 * serves it at /api/v1/openapi.json (generated from the operation table) to a temporary file and
 * lints it with Redocly's CLI under redocly.yaml (the recommended rules, any warning an error).
 * Exits with the linter's status; runs offline.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openApiDocument } from '../src/http/openapi.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = mkdtempSync(join(tmpdir(), 'drcore-openapi-'))
try {
  const file = join(dir, 'openapi.json')
  writeFileSync(file, JSON.stringify(openApiDocument(), null, 2))
  const lint = spawnSync(process.execPath, [
    join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js'),
    'lint', file, '--config', join(ROOT, 'redocly.yaml'), ...process.argv.slice(2)
  ], {
    stdio: 'inherit',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' }
  })
  if (lint.error != null) {
    console.error(`lint:openapi: cannot run Redocly's CLI (${lint.error.message}); run npm ci first`)
    process.exitCode = 1
  } else {
    process.exitCode = lint.status ?? 1
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
