/**
 * Content problems are recorded, not thrown (the Python email package's idea): the parser returns
 * the best tree it can plus a list of defects. Exceptions are for limits and programming errors.
 */
export interface Defect {
  /** Stable machine-readable name, e.g. 'MissingClosingBoundary', 'InvalidBase64Padding'. */
  type: string;
  /** One human-readable line. */
  message: string;
  /** Part path ('1.2') where it was found; '' or undefined for the top level. */
  path?: string;
}

/** Thrown when input passes a configured limit (depth, part count, header size, line length). */
export class MimeLimitError extends Error {
  constructor(
    readonly limit: string,
    message: string,
  ) {
    super(message);
    this.name = 'MimeLimitError';
  }
}
