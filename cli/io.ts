/**
 * Where the CLI writes. Results go to stdout (one release id, a table, a JSON document), so they
 * can be piped; progress, notes and errors go to stderr. Commands receive an {@link Io}, so tests
 * capture everything without touching the process.
 */
export interface Io {
  /** Writes one line of results to stdout. */
  out(line: string): void;
  /** Writes one line of progress, notes or errors to stderr. */
  err(line: string): void;
  /**
   * Rewrites the current progress line in place (stderr is a terminal). Only called when
   * {@link Io.interactive} is true.
   */
  rewrite(line: string): void;
  /** True when stderr is a terminal: progress is a bar redrawn in place, not a stream of lines. */
  readonly interactive: boolean;
  /** Width of the terminal, for truncating the progress line. */
  readonly columns: number;
}

/** The process's own stdout and stderr. */
export function processIo(): Io {
  const interactive = Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb';
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    // \r: back to column 0; ESC[2K: clear the line.
    rewrite: (line) => process.stderr.write(`\r\x1b[2K${line}`),
    interactive,
    get columns() {
      return process.stderr.columns || 100;
    },
  };
}

/** An {@link Io} that records what was written, for tests. */
export interface CapturedIo extends Io {
  readonly stdout: string[];
  readonly stderr: string[];
  /** Every {@link Io.rewrite} call, in order. */
  readonly rewrites: string[];
}

/** Captures output in arrays; `interactive` simulates a terminal. */
export function captureIo(options: { interactive?: boolean; columns?: number } = {}): CapturedIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const rewrites: string[] = [];
  return {
    stdout,
    stderr,
    rewrites,
    out: (line) => void stdout.push(line),
    err: (line) => void stderr.push(line),
    rewrite: (line) => void rewrites.push(line),
    interactive: options.interactive ?? false,
    columns: options.columns ?? 120,
  };
}
