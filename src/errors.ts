/**
 * Typed errors. Every message says where (file:line or field path), what, what we got vs what we
 * expected, and a hint when there is one. Structured fields let callers (the CLI, the HTTP server)
 * react without parsing text.
 */
export interface ErrorWhere {
  file?: string
  line?: number
  field?: string
  cause?: unknown
}

export class ResflowError extends Error {
  readonly file?: string
  readonly line?: number
  readonly field?: string
  constructor(message: string, where: ErrorWhere = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause })
    this.name = new.target.name
    this.file = where.file
    this.line = where.line
    this.field = where.field
  }
}

/** A bad config file or option. */
export class ConfigError extends ResflowError {}
/** Bad input data: malformed rows, bad labels, missing columns. */
export class DataError extends ResflowError {}
/** Tensors whose shapes do not fit an op. */
export class ShapeError extends ResflowError {}
/** A graph that cannot be differentiated: the loss depends on an op without a gradient rule. */
export class GradientError extends ResflowError {}
/** onnxruntime could not run a program (its worker failed or exited, or the program was released or misused). */
export class RuntimeError extends ResflowError {}
/** A model that cannot be exported or an exported file that does not match. */
export class ExportError extends ResflowError {}
/**
 * A run directory that cannot be used as it is: locked by another writer, incomplete (still being
 * written, or interrupted), or holding a file that fails its checksum or does not parse.
 */
export class RunError extends ResflowError {}
/** A file that could not be written (disk full, no permission); the previous file, if any, is left as it was. */
export class WriteError extends ResflowError {}
/** A bad serving request (HTTP 4xx). */
export class RequestError extends ResflowError {
  readonly status: number
  constructor(message: string, where: ErrorWhere & { status?: number } = {}) {
    super(message, where)
    this.status = where.status ?? 400
  }
}
