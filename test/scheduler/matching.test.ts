import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { NotFoundError, UserError } from '../../src/errors.ts'
import { AmbiguousNameError } from '../../src/points/errors.ts'
import type { MachineRecord } from '../../src/points/api.ts'
import type { RuleRecord } from '../../src/rules/index.ts'
import { rulesSending } from '../../src/scheduler/matching.ts'

/** A rule as the store keeps it; only `machine` and `to` matter here. */
function rule (machine: string, to = 'peer-b'): RuleRecord {
  return { machine, to } as unknown as RuleRecord
}

function machine (name: string, cluster: string | null): MachineRecord {
  return { machine: name, tenant: '', origin: 'self', cluster, points: 1, latest: null }
}

/**
 * Which rules a backup or an arrival triggers (src/scheduler/matching.ts): a rule naming the
 * machine, or another machine of its cluster. A rule whose machine this Core does not know, or
 * whose name several machines share, sends nothing of it; any other failure is not taken for one
 * of those.
 */
describe('the rules that send a machine', () => {
  const db01 = { machine: 'db01', tenant: '', origin: 'self', cluster: 'sql' }
  const known: Record<string, MachineRecord> = { db02: machine('db02', 'sql'), web01: machine('web01', null) }

  it('takes the rules naming the machine and those naming another machine of its cluster; an unknown or ambiguous name sends nothing', async () => {
    const rules = [rule('db01'), rule('db02'), rule('web01'), rule('gone'), rule('twice')]
    const sending = await rulesSending(rules, db01, async (name) => {
      if (name === 'gone') throw new NotFoundError(`unknown machine: ${name}`)
      if (name === 'twice') throw new AmbiguousNameError(`machine name ${name} is ambiguous`)
      return known[name]
    })
    assert.deepEqual(sending.map(r => r.machine), ['db01', 'db02'])
  })

  it('lets any other failure through rather than read it as "this rule does not name it"', async () => {
    await assert.rejects(rulesSending([rule('db02')], db01, async () => { throw new UserError('the repository is being closed') }), /being closed/)
    await assert.rejects(rulesSending([rule('db02')], db01, async () => { throw new Error('index read failed') }), /index read failed/)
  })
})
