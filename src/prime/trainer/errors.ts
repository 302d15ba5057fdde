/** Raised when a loss or gradient is not finite; the last checkpoint on disk stays good. */
export class TrainingDivergedError extends Error {
  constructor(what: string, step: number, value: number) {
    super(`non-finite ${what} (${value}) at step ${step}: stopping; the last checkpoint is intact`);
    this.name = 'TrainingDivergedError';
  }
}
