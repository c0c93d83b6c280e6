import { InvalidArgumentError } from "commander";

/**
 * A commander parser for a decimal integer from `min` to `max`, refused with `message` otherwise.
 * Digits only: Number() alone would take "" as 0, " 80" as 80 and "0x10" as 16.
 */
export function integerArg(min: number, max: number, message: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(message);
    return n;
  };
}
