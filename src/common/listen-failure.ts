/**
 * One sentence for an address a Core could not listen on (libp2p or the HTTP API), from the
 * system's error code (or the error's own words, when it has none), ending with `whatToDo`.
 */
export function listenFailure (what: string, address: string, code: string, whatToDo: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen for ${what} on ${address}: another program (another Core?) uses that address; stop it, or ${whatToDo}`
    case 'EADDRNOTAVAIL':
      return `cannot listen for ${what} on ${address}: no network interface of this machine has that address; ${whatToDo}`
    case 'EACCES':
      return `cannot listen for ${what} on ${address}: this user may not use that port (ports below 1024 need privileges); ${whatToDo}`
    default:
      return `cannot listen for ${what} on ${address}: ${code}; ${whatToDo}`
  }
}
