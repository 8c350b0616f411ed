import { get, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface Sse {
  res: IncomingMessage;
  events: SseEvent[];
  /** Resolves when an event matching `pred` has arrived. */
  until(pred: (e: SseEvent) => boolean): Promise<SseEvent>;
  ended: Promise<void>;
}

/** The matrix an event is about (`matrix` events carry it as id, `run` events as matrixId). */
export const matrixOf = (e: SseEvent): string =>
  e.event === 'matrix' ? (e.data as { id: string }).id : (e.data as { matrixId: string }).matrixId;

/** A plain HTTP client reading text/event-stream as a browser's EventSource would, with a token. */
export function openStream(url: string, token: string): Promise<Sse> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
      const events: SseEvent[] = [];
      const waiters: (() => void)[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
          );
          if (fields.event) events.push({ event: fields.event, data: JSON.parse(fields.data) });
        }
        for (const w of waiters.splice(0)) w();
      });
      const ended = new Promise<void>((r) => res.on('end', () => r()));
      const until: Sse['until'] = (pred) =>
        new Promise((done) => {
          const check = () => {
            const found = events.find(pred);
            if (found) done(found);
            else waiters.push(check);
          };
          check();
        });
      resolve({ res, events, until, ended });
    }).on('error', reject);
  });
}
