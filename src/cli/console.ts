/**
 * The host side of pinvm's character devices: where guest output goes (stdout, stderr, a
 * file, nowhere) and the interactive console on stdin.
 *
 * Output is buffered per line and written synchronously (process.stdout/stderr are
 * synchronous for files, pipes and terminals on Linux; files are written with writeSync),
 * so nothing is lost when pinvm exits.
 *
 * Input, as QEMU's stdio character device with its multiplexer: when stdin is a terminal it
 * is put in raw mode, every byte typed goes to the serial port's receive line, and Ctrl-A is
 * the escape key: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h prints the keys.
 * When stdin is not a terminal its bytes go to the serial port as they are (no escapes) and
 * its end is just the end of input; pinvm never waits for it.
 */
import { closeSync, openSync, writeSync } from "node:fs";

/** Ctrl-A, the escape key of QEMU's stdio multiplexer. */
export const ESCAPE_KEY = 0x01;

/** A sink for guest output bytes. */
export interface ByteSink {
  /** Takes one byte. */
  readonly byte: (b: number) => void;
  /** Writes what is buffered. */
  flush(): void;
  /** Flushes and releases the sink. */
  close(): void;
}

/** Buffers bytes and writes them per line to a file descriptor or stream. */
class LineSink implements ByteSink {
  private buffer: number[] = [];
  constructor(
    private readonly write: (data: Uint8Array) => void,
    private readonly release: () => void = () => {},
  ) {}
  readonly byte = (b: number): void => {
    this.buffer.push(b & 0xff);
    if (b === 0x0a || this.buffer.length >= 4096) this.flush();
  };
  flush(): void {
    if (this.buffer.length === 0) return;
    const data = Uint8Array.from(this.buffer);
    this.buffer = [];
    this.write(data);
  }
  close(): void {
    this.flush();
    this.release();
  }
}

/** A sink writing to process.stdout or process.stderr. */
export function streamSink(stream: NodeJS.WriteStream): ByteSink {
  return new LineSink((data) => stream.write(data));
}

/**
 * A sink writing to the file at `path` (created, or truncated if it exists). Throws an Error
 * whose message names the file when it cannot be opened.
 */
export function fileSink(path: string): ByteSink {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (e) {
    throw new Error(`cannot open '${path}' for writing: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return new LineSink(
    (data) => {
      writeSync(fd, data);
    },
    () => closeSync(fd),
  );
}

/** What the console asks of the machine loop. */
export interface ConsoleEvents {
  /** A byte for the serial port's receive line. */
  receive(byte: number): void;
  /** Ctrl-A x: the user wants to quit. */
  quit(): void;
  /** Something arrived (wakes a loop waiting for input). */
  wake(): void;
}

/** The interactive console on stdin. */
export class StdinConsole {
  private escaped = false;
  private rawMode = false;
  private attached = false;
  private readonly onData = (chunk: Buffer): void => this.input(chunk);

  /** Creates a console; call attach() to start reading. */
  constructor(
    private readonly events: ConsoleEvents,
    private readonly stdin: NodeJS.ReadStream = process.stdin,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Whether stdin is a terminal (raw mode, escapes, and waiting for input make sense). */
  get interactive(): boolean {
    return this.stdin.isTTY === true;
  }

  /** Starts reading stdin; in a terminal, switches it to raw mode. */
  attach(): void {
    if (this.attached) return;
    this.attached = true;
    if (this.interactive) {
      this.stdin.setRawMode(true);
      this.rawMode = true;
    }
    this.stdin.on("data", this.onData);
    this.stdin.on("end", () => this.stdin.off("data", this.onData));
    this.stdin.on("error", () => this.stdin.off("data", this.onData));
    this.stdin.resume();
  }

  /** Stops reading and puts the terminal back in its previous mode. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    this.stdin.off("data", this.onData);
    if (this.rawMode) this.stdin.setRawMode(false);
    this.rawMode = false;
    this.stdin.pause();
    this.stdin.unref?.();
  }

  /** Handles bytes from stdin (exposed for tests). */
  input(chunk: Uint8Array): void {
    for (const b of chunk) {
      if (!this.interactive) {
        this.events.receive(b);
        continue;
      }
      if (this.escaped) {
        this.escaped = false;
        if (b === 0x78 /* x */) {
          this.stderr.write("pinvm: terminated (C-a x)\r\n");
          this.events.quit();
        } else if (b === ESCAPE_KEY) this.events.receive(ESCAPE_KEY);
        else if (b === 0x68 /* h */) {
          this.stderr.write("\r\nC-a h    print this help\r\nC-a x    exit pinvm\r\nC-a C-a  sends C-a\r\n");
        }
        continue;
      }
      if (b === ESCAPE_KEY) this.escaped = true;
      else this.events.receive(b);
    }
    this.events.wake();
  }
}
