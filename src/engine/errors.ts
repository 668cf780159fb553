/**
 * Errors raised by tfjs-er. Every message names the layer, argument or option
 * at fault and says what to do about it.
 */

/** Bad input from the caller: shapes, values or options. Weights are never changed. */
export class ERInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ERInputError';
    Object.setPrototypeOf(this, ERInputError.prototype);
  }
}

/** Numerical trouble that could not be recovered (NaN/Inf in statistics). */
export class ERNumericalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ERNumericalError';
    Object.setPrototypeOf(this, ERNumericalError.prototype);
  }
}
