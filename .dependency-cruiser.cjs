/**
 * drcore's layers, lowest first (docs/architecture.md, "Layers"). `npm run depcheck` checks
 * every import of src/ against this list, and CI runs it. The rules:
 *
 * - a module imports from its own folder, from the layers below its own, and from the folders
 *   listed before its own in its layer; never from a layer above, nor from a folder listed
 *   after its own;
 * - no import cycle, not even inside a folder (type-only imports count: they couple modules
 *   as much as the others);
 * - the services in APART do not import each other, although the order would let one of them:
 *   each declares the parts it needs and the composition root (src/core/) wires them;
 * - every module of src/ is in a layer, and none is an orphan (imported by nothing, importing
 *   nothing).
 *
 * A layer is a list of paths under src/: a folder (ending in /) or one file.
 */
const LAYERS = [
  ['foundation', ['common/', 'errors.ts', 'fsx/', 'chunker/']],
  ['contracts', ['api/', 'events/api.ts', 'events/retention.ts', 'protocol/']],
  ['storage', ['store/', 'repo/', 'events/log.ts']],
  ['model', ['points/', 'rules/', 'tenants/', 'retention/']],
  ['transport', ['net/']],
  ['services', ['peers/', 'backup/', 'restore/', 'seed/', 'status/', 'replication/', 'scheduler/', 'repair/', 'prune/']],
  ['composition', ['core/']],
  ['entry', ['http/', 'daemon.ts', 'cli/']]
]

/** Services that do not know each other, in either direction. */
const APART = [
  ['replication', 'scheduler'],
  ['replication', 'seed']
]

const escape = text => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const pathsOf = paths => `^src/(${paths.map(p => escape(p) + (p.endsWith('/') ? '' : '$')).join('|')})`
const layered = pathsOf(LAYERS.flatMap(([, paths]) => paths))

const upward = LAYERS.flatMap(([name, paths], i) => {
  const above = LAYERS.slice(i + 1).flatMap(([, p]) => p)
  if (above.length === 0) return []
  return [{
    name: `up-from-${name}`,
    comment: `${name} (layer ${i}) imports from a layer above it: move the shared part down, or let the composition root (src/core/) hand it over`,
    severity: 'error',
    from: { path: pathsOf(paths) },
    to: { path: pathsOf(above) }
  }]
})

const sideways = LAYERS.flatMap(([name, paths]) => paths.slice(0, -1).map((path, k) => ({
  name: `${name}-order`,
  comment: `src/${path} imports a folder listed after it in the ${name} layer: only the ones listed before it are below it`,
  severity: 'error',
  from: { path: pathsOf([path]) },
  to: { path: pathsOf(paths.slice(k + 1)) }
})))

const apart = APART.flatMap(([a, b]) => [[a, b], [b, a]]).map(([from, to]) => ({
  name: `${from}-apart-from-${to}`,
  comment: `${from}/ and ${to}/ do not know each other: share through a layer below (rules/, tenants/) or through src/core/`,
  severity: 'error',
  from: { path: `^src/${from}/` },
  to: { path: `^src/${to}/` }
}))

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'an import cycle: these modules cannot be understood, tested or loaded one without the other',
      severity: 'error',
      from: {},
      to: { circular: true }
    },
    {
      name: 'unlayered',
      comment: 'a module of src/ that no layer of .dependency-cruiser.cjs names: give it one',
      severity: 'error',
      from: { path: '^src/', pathNot: layered },
      to: {}
    },
    {
      name: 'to-unlayered',
      comment: 'an import of a module of src/ that no layer of .dependency-cruiser.cjs names: give it one',
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: layered }
    },
    {
      name: 'no-orphans',
      comment: 'a module of src/ that nothing imports and that imports nothing: dead code, or a module the checks cannot see',
      severity: 'error',
      // the console's scripts are loaded by the browser, not imported by the server
      from: { orphan: true, path: '^src/', pathNot: '^src/http/console/' },
      to: {}
    },
    {
      name: 'not-resolvable',
      comment: 'an import that does not resolve to a file',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true }
    },
    ...upward,
    ...sideways,
    ...apart
  ],
  options: {
    includeOnly: '^src/',
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6'],
    // swc parses TypeScript (the project's TypeScript 7.0 has no compiler API for the tool to
    // use); it reports type-only imports too
    parser: 'swc'
  }
}
