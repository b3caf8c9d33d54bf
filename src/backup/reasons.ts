import { userInfo } from 'node:os'

/**
 * Why an entry could not be read, as a sentence an operator acts on (the errno code stays in
 * `Skipped.code` for scripts): a backup lists these for what it skipped, and says them when a
 * whole volume cannot be read.
 */
export function whyUnreadable (code: string): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied: ${whoRuns()} may not read it; run the backup as a user who can, or grant read access`
    case 'EIO':
      return 'input/output error: the disk could not read it (the system log names the device)'
    case 'ELOOP':
      return 'too many levels of symbolic links'
    case 'ENAMETOOLONG':
      return 'its path is longer than the system allows'
    case 'ESTALE':
      return 'stale file handle: the network file system it is on lost it'
    case 'ENOTDIR':
      return 'a part of its path is not a folder'
    default:
      return `it could not be read (${code})`
  }
}

function whoRuns (): string {
  try {
    return `user ${userInfo().username}`
  } catch {
    return `user id ${process.getuid?.() ?? '?'}`
  }
}
