// `herd serve`'s log, read back by boot-test (pure): which stage each node asked for and what the server answered.
// warewulfd's format: a request line (`request from hwaddr:<mac> ipaddr:<addr> | stage:<stage>`) followed by the lines of
// that request's answer (`send <file> -> <node>`, `ERROR  : Not found: ...`, `DENIED : ...`). herd serve writes one
// request's lines together, so a line belongs to the last request line before it.

export interface StageRequest {
  /** Lower-case colon MAC as the node sent it. */
  readonly mac: string;
  readonly stage: string;
  /** The file sent, when the server answered with one. */
  readonly sent?: string;
  /** The ERROR/DENIED/WARN text when it did not. */
  readonly problem?: string;
  /** Caller's clock when the request line arrived (ms). */
  readonly atMs: number;
}

const REQUEST = /request from hwaddr:([0-9a-fA-F:-]+) ipaddr:\S+ \| stage:(\w+)/;
const SEND = /\] send (\S+) -> \S*$/;
const PROBLEM = /\] (ERROR|DENIED|WARN)\s*: (.*)$/;

/** Accumulates requests from log lines as they arrive. */
export class ServerLogReader {
  private readonly requests: { mac: string; stage: string; sent?: string; problem?: string; atMs: number }[] = [];
  private partial = '';

  /** Feed a chunk of log text (any split); `nowMs` stamps the request lines it completes. */
  push(chunk: string, nowMs: number): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line, nowMs);
  }

  private line(line: string, nowMs: number): void {
    const req = REQUEST.exec(line);
    if (req) {
      this.requests.push({ mac: req[1]!.toLowerCase().replace(/-/g, ':'), stage: req[2]!, atMs: nowMs });
      return;
    }
    const last = this.requests[this.requests.length - 1];
    if (!last) return;
    const send = SEND.exec(line);
    if (send && last.sent === undefined) last.sent = send[1]!;
    const problem = PROBLEM.exec(line);
    if (problem && last.problem === undefined && problem[1] !== 'WARN') last.problem = problem[2]!;
  }

  /** Every request of one MAC, in arrival order. */
  forMac(mac: string): StageRequest[] {
    const m = mac.toLowerCase();
    return this.requests.filter((r) => r.mac === m).map((r) => ({ ...r }));
  }
}
