import { OperationalError } from '../errors.ts'

/** The node could not listen on one of its addresses: which, and the system's error code. */
export class ListenError extends OperationalError {
  override name = 'ListenError'
  readonly address: string
  readonly code: string | undefined
  /** the error's first line, for a failure without a code */
  readonly detail: string
  constructor (address: string, code: string | undefined, detail: string) {
    super(`cannot listen on ${address}: ${code ?? detail}`)
    this.address = address
    this.code = code
    this.detail = detail
  }
}

/**
 * libp2p reports listen failures as one message listing each address with the error's text
 * (`  /ip4/127.0.0.1/tcp/4710: Error: listen EADDRINUSE: address already in use ...`, then
 * its stack): the first failed address and its code.
 */
export function listenErrorOf (err: Error, listen: string[]): ListenError {
  const line = /^\s*(\/\S+): (?:\w*Error: )?(?:listen )?(E[A-Z]+)?/m.exec(err.message)
  const address = line?.[1] ?? listen.join(', ')
  const code = line?.[2] ?? (err as NodeJS.ErrnoException).code
  return new ListenError(address, code, err.message.split('\n')[0])
}
