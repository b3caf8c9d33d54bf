import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatBytes, parseSize } from '../../src/common/sizes.ts'

describe('sizes', { timeout: 10_000 }, () => {
  it('parseSize reads bytes with binary multiples, in either case, with B or iB after', () => {
    assert.equal(parseSize('1048576'), 1048576)
    assert.equal(parseSize('512K'), 512 * 1024)
    assert.equal(parseSize('700m'), 700 * 1024 ** 2)
    assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3)
    assert.equal(parseSize('2T'), 2 * 1024 ** 4)
    assert.equal(parseSize(' 10 MiB '), 10 * 1024 ** 2)
    assert.equal(parseSize('4kb'), 4096)
    assert.equal(parseSize('0.3K'), 0.3 * 1024, 'not rounded: the caller decides how')
  })

  it('parseSize answers undefined for what is not a size, and takes /s only for a rate', () => {
    for (const text of ['', 'big', '-1M', '1P', '10 Mbit', '1e6', 'M', '1.M']) assert.equal(parseSize(text), undefined, text)
    assert.equal(parseSize('10M/s'), undefined)
    assert.equal(parseSize('10MiB/s', { perSecond: true }), 10 * 1024 ** 2)
    assert.equal(parseSize('512K', { perSecond: true }), 512 * 1024)
  })

  it('formatBytes shows bytes as they are and larger sizes in the largest binary unit below them', () => {
    assert.equal(formatBytes(0), '0 B')
    assert.equal(formatBytes(1023), '1023 B')
    assert.equal(formatBytes(1024), '1.00 KiB')
    assert.equal(formatBytes(1536), '1.50 KiB')
    assert.equal(formatBytes(10 * 1024 ** 2), '10.0 MiB')
    assert.equal(formatBytes(4.25 * 1024 ** 3), '4.25 GiB')
    assert.equal(formatBytes(3 * 1024 ** 5), '3072.0 TiB', 'TiB is the largest unit')
  })

  it('what formatBytes writes, parseSize reads back to within its rounding', () => {
    for (const n of [1536, 10 * 1024 ** 2, 4.25 * 1024 ** 3]) {
      const back = parseSize(formatBytes(n).replace(' ', ''))
      assert.ok(back !== undefined && Math.abs(back - n) / n < 0.01, `${n} -> ${formatBytes(n)} -> ${back}`)
    }
  })
})
