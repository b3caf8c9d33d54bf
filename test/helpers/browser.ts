import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'

/**
 * Debian's Chromium, headless, through playwright-core. Playwright gives each launch a fresh
 * profile; the flags keep Chromium off the network (it would otherwise call home on a closed one).
 */
export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']
  })
}
