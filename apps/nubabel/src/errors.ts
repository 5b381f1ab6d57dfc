/**
 * Base of Nubabel's typed errors: a literal `name` the HTTP error table keys on, and data a
 * client may see as `details`. Anything thrown that is not one of these is a logged 500.
 */
export abstract class NubabelError<Data = undefined> extends Error {
  abstract override readonly name: string;
  constructor(
    message: string,
    readonly data: Data,
  ) {
    super(message);
  }
}
