import { InvalidArgumentError } from 'commander';

export function parsePositiveInt(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${option} must be a positive integer, got '${value}'`);
  return n;
}
