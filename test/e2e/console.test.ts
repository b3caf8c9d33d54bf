import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../helpers/browser.ts'
import { tempDir, removeDir } from '../support/dirs.ts'
import { DaemonCore } from '../support/daemon.ts'
import { freePort, waitFor } from '../support/wait.ts'

// functions passed to page.evaluate run in the browser; the project is type-checked without the DOM library
declare const window: any
declare const document: any
declare const MutationObserver: any

/**
 * The web console in a real browser (Debian's Chromium) against two real `drcore start` Cores:
 * `hq` backs up machines and replicates them to `dr`. Each page stays open across the steps, so
 * every change it shows arrived live over the event stream, never by a reload.
 */
describe('the web console, live, in a browser', () => {
  let work: string
  let hq: DaemonCore
  let dr: DaemonCore
  let browser: Browser
  const contexts: BrowserContext[] = []
  let hqPage: Page
  let drPage: Page

  const loginLink = (core: DaemonCore): string => /^console (\S+)$/m.exec(core.output)?.[1] ?? assert.fail(`${core.name} printed no console link: ${core.output}`)

  /** A page logged in through the link `drcore start` printed; each Core in its own browser context. */
  async function open (core: DaemonCore): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', err => { throw new Error(`${core.name}'s console threw: ${err.message}`) })
    await page.goto(loginLink(core))
    assert.equal(new URL(page.url()).pathname, '/', 'the login link sends the browser to the console without the token in the address')
    await page.waitForSelector('body[data-connection="live"]')
    // set once; still there at the end means the page never reloaded
    await page.evaluate(() => { window.loadedOnce = true })
    return page
  }

  async function tree (name: string, bytes: number): Promise<string> {
    const dir = join(work, 'data', name)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'disk.img'), randomBytes(bytes))
    await writeFile(join(dir, 'notes.txt'), `${name}\n`)
    return dir
  }

  async function backup (machine: string, dir: string): Promise<any> {
    return await hq.api('backup', { machine, volumes: [{ name: 'data', path: dir }] })
  }

  before(async () => {
    work = await tempDir('drcore-console-')
    ;[hq, dr] = await Promise.all([DaemonCore.init(work, 'hq'), DaemonCore.init(work, 'dr')])
    // a fixed API port, so the console finds hq again after a restart
    const config = JSON.parse(await readFile(join(hq.repo, 'config.json'), 'utf8'))
    config.api.port = await freePort()
    await writeFile(join(hq.repo, 'config.json'), JSON.stringify(config))
    const [chromium] = await Promise.all([launchChromium(), hq.start(), dr.start()])
    browser = chromium
  })

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await Promise.all([hq?.stop(), dr?.stop()])
    await removeDir(work)
  })

  test('the login link opens the Overview: each machine with its chain as a timeline', async () => {
    const dir = await tree('web01', 64 * 1024)
    await backup('web01', dir)
    await writeFile(join(dir, 'notes.txt'), 'changed\n')
    await backup('web01', dir)
    hqPage = await open(hq)
    const boxes = hqPage.locator('.machine[data-machine="web01"] button.pt')
    await boxes.nth(1).waitFor()
    assert.deepEqual(await boxes.evaluateAll(els => els.map(e => [(e as any).dataset.kind, (e as any).dataset.state])),
      [['base', 'complete'], ['incremental', 'complete']])
    assert.match(await hqPage.locator('#overview-cards').innerText(), /deduplication/i)
    // a third backup appears without a reload
    await writeFile(join(dir, 'notes.txt'), 'changed again\n')
    await backup('web01', dir)
    await hqPage.waitForFunction(() => document.querySelectorAll('.machine[data-machine="web01"] button.pt').length === 3)
  })

  test('a pending pairing request is approved from the page, into the tenant typed there', async () => {
    drPage = await open(dr)
    await drPage.click('.sidebar a[href="#peers"]')
    await hq.api('peerAdd', { address: dr.address, name: 'dr' })
    const row = drPage.locator(`#requests tr[data-peer="${hq.peerId}"]`)
    await row.waitFor({ timeout: 30_000 })
    assert.equal(await drPage.locator('#nav-pending').innerText(), '1')
    await row.locator('input').fill('hq-tenant')
    await row.getByRole('button', { name: 'Approve' }).click()
    await row.waitFor({ state: 'detached' })
    const peer = (await dr.api('peers')).find((p: any) => p.peerId === hq.peerId)
    assert.equal(peer.state, 'approved')
    assert.equal(peer.tenant, 'hq-tenant')
    await waitFor('hq to hear the approval', async () => await hq.api('peers'), (peers: any[]) => peers.some(p => p.peerId === dr.peerId && p.canSendTo))
    // hq's own Peers page shows dr green: approved and connected
    await hqPage.click('.sidebar a[href="#peers"]')
    await hqPage.locator(`#peer-list tr[data-peer="${dr.peerId}"][data-health="connected"] .dot.green`).waitFor({ timeout: 30_000 })
  })

  test('a rule created on the Replication page runs on Replicate now; the progress bar reaches done', async () => {
    await backup('web01', await tree('web01', 3 * 1024 * 1024))
    await hqPage.click('.sidebar a[href="#replication"]')
    await hqPage.click('#rule-add-box summary')
    const form = hqPage.locator('#rule-add')
    await form.locator('input[name="machine"]').fill('web01')
    await form.locator('select[name="to"]').selectOption(dr.peerId)
    // once a year: the rule runs only when asked, so the job below is the button's
    await form.locator('input[name="schedule"]').fill('0 0 1 1 *')
    await form.locator('input[name="limit"]').fill('1M')
    await form.getByRole('button', { name: 'Create rule' }).click()
    const key = `web01→${dr.peerId}`
    const row = hqPage.locator(`#rules tr[data-rule="${key}"]`)
    await row.waitFor()
    assert.match(await row.innerText(), /idle/)
    await hqPage.evaluate((key) => {
      const seen: string[] = window.barStates = []
      const texts: string[] = window.barTexts = []
      const record = (): void => {
        const bar = document.querySelector(`.progress[data-rule="${key}"]`)
        const state = bar?.dataset.state
        if (state != null && seen.at(-1) !== state) seen.push(state)
        if (state === 'running') texts.push(bar.querySelector('.text').textContent)
      }
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true })
    }, key)
    await row.getByRole('button', { name: 'Replicate now' }).click()
    const bar = hqPage.locator(`.progress[data-rule="${key}"][data-state="done"]`)
    await bar.waitFor({ timeout: 60_000 })
    assert.match(await bar.innerText(), /^done — \d+(\.\d+)? MiB sent/)
    const states: string[] = await hqPage.evaluate(() => window.barStates)
    assert.ok(states.includes('running'), `the bar showed the job running before done: ${states.join(' → ')}`)
    assert.equal(states.at(-1), 'done')
    const texts: string[] = await hqPage.evaluate(() => window.barTexts)
    // e.g. "1.20 MiB of 3.00 MiB · point 4 of 4 · 1.00 MiB/s · 2 s left" (the 3 MiB point)
    assert.ok(texts.some(t => /^[\d.]+ (B|KiB|MiB) of [\d.]+ MiB( · point \d of \d)? · [\d.]+ (B|KiB|MiB)\/s · \d+ s left( on this point)?$/.test(t)),
      `while running, the bar shows bytes, rate and time left: ${texts.slice(0, 5).join(' | ')}`)
    const rule = await hq.rule('web01', dr)
    assert.equal(rule.state, 'idle')
    assert.equal(rule.pointsBehind, 0)
    assert.ok(rule.bytesSent > 3 * 1024 * 1024)
    // the target's operator locks hq's tenant and gives it a quota
    await dr.api('tenantSet', { tenant: 'hq-tenant', retentionLock: '30d', quota: '1G' })
    // the target's Overview shows the replicated chain, complete, in hq's tenant
    await drPage.click('.sidebar a[href="#overview"]')
    await drPage.locator('.machine[data-machine="web01"][data-tenant="hq-tenant"] button.pt[data-state="complete"]').nth(3).waitFor()
    // each machine's retention, and the tenant's use, quota and lock (set by the target's operator)
    const tenantRow = drPage.locator('#tenants tr[data-tenant="hq-tenant"]')
    // the tenant.changed event refreshes the page
    await drPage.waitForFunction(() => /30d/.test(document.querySelector('#tenants tr[data-tenant="hq-tenant"]')?.textContent ?? ''))
    assert.match(await tenantRow.innerText(), /hq-tenant\s+4\s+[\d.]+ MiB\s+1\.00 GiB \(\d+%\)\s+30d: keeps 4 points until/)
    assert.equal(await drPage.locator('.machine[data-machine="web01"][data-tenant="hq-tenant"] .retention').innerText(), 'no retention policy; lock keeps 4 points')
  })

  test('after a seed drive is consumed, an orphan on the timeline turns complete without a reload', async () => {
    await drPage.click('.sidebar a[href="#overview"]')
    const dir = await tree('db01', 256 * 1024)
    await backup('db01', dir)
    await writeFile(join(dir, 'notes.txt'), 'db01 changed\n')
    await backup('db01', dir)
    // the existing points travel on a seed drive; the next one goes over the network as a delta
    await hq.api('ruleAdd', { machine: 'db01', to: 'dr', seedDrive: true })
    await writeFile(join(dir, 'notes.txt'), 'db01 changed again\n')
    const third = await backup('db01', dir)
    const orphan = drPage.locator(`.machine[data-machine="db01"] button.pt[data-point="${third.point}"]`)
    await orphan.waitFor({ timeout: 60_000 })
    assert.equal(await orphan.getAttribute('data-state'), 'orphan')
    assert.equal(await orphan.getAttribute('class'), 'pt incremental orphan')

    const seedDir = join(work, 'seed')
    await hq.api('seedCreate', { out: seedDir, machines: ['db01'], to: dr.peerId })
    // consumed from dr's Seed drives page; the Overview is updated meanwhile, out of sight
    await drPage.click('.sidebar a[href="#seeds"]')
    await drPage.locator('#seed-consume input[name="dir"]').fill(seedDir)
    await drPage.getByRole('button', { name: 'Consume' }).click()
    await drPage.locator('#seed-consume-progress', { hasText: /\d+ blocks imported, [1-9]\d* points completed/ }).waitFor({ timeout: 30_000 })
    await drPage.locator('#seeds-done tr[data-state="consumed"]').waitFor()
    await drPage.click('.sidebar a[href="#overview"]')
    await drPage.locator(`.machine[data-machine="db01"] button.pt[data-point="${third.point}"][data-state="complete"]`).waitFor({ timeout: 30_000 })
    assert.equal(await drPage.locator('.machine[data-machine="db01"] button.pt[data-state="orphan"]').count(), 0)
    assert.equal(await drPage.evaluate(() => window.loadedOnce), true, 'the page was not reloaded')
  })

  test('when the daemon stops the page says so, and it recovers when the daemon is back', async () => {
    await hqPage.click('.sidebar a[href="#overview"]')
    await hq.stop()
    const banner = hqPage.locator('#banner')
    await banner.waitFor({ state: 'visible', timeout: 15_000 })
    assert.equal(await banner.innerText(), 'Core unreachable — retrying…')
    assert.equal(await hqPage.evaluate(() => document.body.dataset.connection), 'down')
    await hq.start()
    await banner.waitFor({ state: 'hidden', timeout: 30_000 })
    assert.equal(await hqPage.evaluate(() => document.body.dataset.connection), 'live')
    // the token outlived the restart: the page is still logged in and live
    const dir = join(work, 'data', 'web01')
    await writeFile(join(dir, 'notes.txt'), 'after the restart\n')
    const point = await backup('web01', dir)
    await hqPage.locator(`button.pt[data-point="${point.point}"]`).waitFor({ timeout: 30_000 })
    assert.equal(await hqPage.evaluate(() => window.loadedOnce), true, 'the page was not reloaded')
  })

  test('the console is usable with the keyboard: Tab and number keys through the navigation, arrows along a timeline', async () => {
    await hqPage.locator('a.skip').focus()
    await hqPage.keyboard.press('Tab')
    assert.equal(await hqPage.evaluate(() => document.activeElement?.getAttribute('href')), '#overview')
    await hqPage.keyboard.press('Tab')
    assert.equal(await hqPage.evaluate(() => document.activeElement?.getAttribute('href')), '#peers')
    await hqPage.keyboard.press('Enter')
    await hqPage.waitForSelector('body[data-page="peers"]')
    assert.equal(await hqPage.evaluate(() => document.activeElement?.id), 'main', 'focus moves to the page that opened')
    assert.equal(await hqPage.locator('.sidebar a[href="#peers"]').getAttribute('aria-current'), 'page')
    await hqPage.keyboard.press('3')
    await hqPage.waitForSelector('body[data-page="replication"]')
    await hqPage.locator('.sidebar a[href="#overview"]').focus()
    await hqPage.keyboard.press('Enter')
    await hqPage.waitForSelector('body[data-page="overview"]')
    const last = hqPage.locator('.machine[data-machine="web01"] button.pt').last()
    await last.focus()
    await hqPage.keyboard.press('ArrowLeft')
    const focused = await hqPage.evaluate(() => document.activeElement.dataset.kind)
    assert.equal(focused, 'incremental')
    await hqPage.keyboard.press('Home')
    assert.equal(await hqPage.evaluate(() => document.activeElement.dataset.kind), 'base')
    await hqPage.keyboard.press('Enter')
    assert.match(await hqPage.locator('#point-detail').innerText(), /base image/)
  })

  test('a browser without the login cookie is told how to log in, and sees no data', async () => {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    await page.goto(new URL(loginLink(hq)).origin + '/')
    const banner = page.locator('#banner.login')
    await banner.waitFor({ timeout: 15_000 })
    assert.match(await banner.innerText(), /Not logged in to this Core\. Open the console link that drcore start printed/)
    assert.equal(await page.locator('.machine').count(), 0)
  })
})
