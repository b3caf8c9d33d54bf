export { backup } from './backup.ts'
export type { BackupFs, BackupSyncFs } from './fs.ts'
export type { Skipped } from './archiver.ts'
export type { BackupDeps, BackupOptions, BackupProgress, BackupResult } from './api.ts'
