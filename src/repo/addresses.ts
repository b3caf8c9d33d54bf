import { isIP } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { UsageError } from '../errors.ts'

/**
 * The addresses an operator gives (`init`, `start`, `config set`), checked where they are
 * entered so that a bad one is one line there and not a failure at the next start.
 */

/**
 * A libp2p listen address: a TCP multiaddr on an IP (`/ip4/0.0.0.0/tcp/4710`, `/ip6/::/tcp/4710`)
 * or `HOST:PORT` (`127.0.0.1:4710`, `[::1]:4710`), returned as a multiaddr. `what` names the
 * option in the error.
 */
export function parseListenAddress (value: string, what = '--listen'): string {
  const bad = (why: string): never => {
    throw new UsageError(`${what} ${value}: ${why}; give a TCP multiaddr such as /ip4/0.0.0.0/tcp/4710, or HOST:PORT such as 127.0.0.1:4710`)
  }
  if (!value.startsWith('/')) {
    const { host, port } = parseHostPort(value, what, bad)
    return `/${isIP(host) === 6 ? 'ip6' : 'ip4'}/${host}/tcp/${port}`
  }
  let components: Array<{ name: string, value?: string }>
  try {
    components = multiaddr(value).getComponents()
  } catch (err: any) {
    return bad(`not a multiaddr (${err.message})`)
  }
  const names = components.map(c => c.name)
  if (names.length !== 2 || (names[0] !== 'ip4' && names[0] !== 'ip6') || names[1] !== 'tcp') {
    return bad('a Core listens on TCP at an IP address (/ip4/ADDRESS/tcp/PORT or /ip6/ADDRESS/tcp/PORT), nothing more')
  }
  return multiaddr(value).toString()
}

/** The HTTP API's address: `HOST:PORT`, `[IPv6]:PORT`, or `PORT` alone (on 127.0.0.1). */
export function parseApiAddress (value: string, what = '--api'): { host: string, port: number } {
  const bad = (why: string): never => {
    throw new UsageError(`${what} ${value}: ${why}; give HOST:PORT such as 127.0.0.1:4711 (port 0 picks a free one)`)
  }
  if (/^\d+$/.test(value)) return { host: '127.0.0.1', port: parsePort(value, bad) }
  return parseHostPort(value, what, bad)
}

function parseHostPort (value: string, what: string, bad: (why: string) => never): { host: string, port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value)
  if (m == null) return bad('not HOST:PORT')
  const host = m[1]
  if (isIP(host) === 0) return bad(`${host} is not an IP address`)
  return { host, port: parsePort(m[2], bad) }
}

function parsePort (text: string, bad: (why: string) => never): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) return bad(`port ${text} is not 0-65535`)
  return port
}
