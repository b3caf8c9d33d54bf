import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { openApiDocument } from '../../src/http/openapi.ts'

const ROOT = join(import.meta.dirname, '..', '..')

/**
 * The OpenAPI document as the daemon serves it, checked by a standard linter (Redocly's CLI, its
 * recommended rules with warnings as errors: redocly.yaml), through `npm run lint:openapi`.
 */
describe('the OpenAPI document under a standard linter', { timeout: 60_000 }, () => {
  test('names the project licence, as package.json does, by its SPDX identifier', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    const info = openApiDocument().info as { license?: { name?: string, identifier?: string } }
    assert.equal(info.license?.identifier, pkg.license)
    assert.ok(info.license?.name != null && info.license.name.length > 0, 'a licence object needs a name')
  })

  test('passes Redocly\'s recommended rules without an error or a warning', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'scripts', 'lint-openapi.ts'), '--format=json'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
      .catch((err: { stdout?: string, stderr?: string, message: string }) => {
        // the linter exits 1 on any problem; its JSON report still says which
        if (err.stdout == null || err.stdout === '') assert.fail(`the linter did not run: ${err.stderr ?? err.message}`)
        return { stdout: err.stdout }
      })
    const report = JSON.parse(stdout) as { totals: { errors: number, warnings: number }, problems: Array<{ ruleId: string, message: string, location?: Array<{ pointer?: string }> }> }
    const problems = report.problems.map(p => `${p.ruleId} at ${p.location?.[0]?.pointer ?? '?'}: ${p.message}`)
    assert.deepEqual(problems, [])
    assert.deepEqual({ errors: report.totals.errors, warnings: report.totals.warnings }, { errors: 0, warnings: 0 })
  })
})
