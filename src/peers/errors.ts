import { InvalidInputError } from '../errors.ts'

/** A Core asked to pair with itself (its own peer id, or an address that reaches itself): never valid. */
export class SelfPairingError extends InvalidInputError {
  override name = 'SelfPairingError'
}
