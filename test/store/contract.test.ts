import { STORE_KINDS } from '../helpers/store-harness.ts'
import { blockStoreContract } from './contract.ts'

for (const kind of STORE_KINDS) blockStoreContract(kind)
