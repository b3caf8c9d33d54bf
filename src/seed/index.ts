/**
 * Seed drives (docs/seed-drives.md): a Core's recovery points written as CARv1 part files that
 * travel on removable media instead of the network, and their import on the target.
 *
 * `writeSeed` plans the parts (so every part carries the final, signed descriptor) and streams
 * the blocks out, deduplicated across points and machines with flat memory. `consumeSeed` reads
 * parts in any order, any number of times, verifies every block and manifest before storing it,
 * and reports which orphans became complete. `SeedRegistry` keeps the seeds a Core wrote and the
 * seed-drive rules waiting for them; `SeedImports` keeps which parts of a seed a Core holds.
 * The Core's seed operations are built on these in src/core/handlers/seed.ts.
 */
export type {
  ConsumedPart, CreatedPart, PartDescriptor, SeedConsumeResult, SeedCreateResult, SeedCreateOutput, SeedDescriptor, SeedImportRecord, SeedMachine,
  SeedRecord, SeedRow, SeedState, VerifiedSeed
} from './api.ts'
export { writeSeed, partFileName } from './create.ts'
export type { CreateDeps, CreateOptions } from './create.ts'
export { consumeSeed } from './consume.ts'
export type { ConsumeDeps } from './consume.ts'
export { selectPoints } from './selection.ts'
export type { SeedSelection, SelectionOptions } from './selection.ts'
export { SeedRegistry } from './registry.ts'
export { SeedImports, missingParts } from './imports.ts'
export { removeUnfinishedSeeds } from './leftovers.ts'
export { SeedPartReader } from './part-reader.ts'
export type { PartSection } from './part-reader.ts'
export { decodeSeed, decodePart, signSeed } from './descriptor.ts'
