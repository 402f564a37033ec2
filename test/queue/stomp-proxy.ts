import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A STOMP frame as the proxy saw it pass: its command and headers (values as sent, unescaped). */
export interface SeenFrame {
  readonly command: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Forward the frame now (`undefined`), or when the promise resolves. */
export type Hold = Promise<void> | undefined;

export interface StompProxyRules {
  /**
   * A frame the client sent. Held, it holds up every later client frame too: the broker sees the
   * client's frames in the client's order, only later.
   */
  fromClient?(frame: SeenFrame): Hold;
  /**
   * A frame the broker sent. Held, it does not hold up later broker frames: the client sees them
   * first. A frame released while another one is being forwarded goes out after it.
   */
  fromBroker?(frame: SeenFrame): Hold;
}

export interface StompProxy {
  /** The broker URL, pointing at the proxy. */
  readonly url: string;
  /** Client connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a STOMP broker that reads the frames passing in both directions and lets
 * a test delay some of them — to put on the wire, deterministically, an order of frames the broker
 * produces only in a race. Heart-beats (bare end-of-lines) pass in order with the frames.
 */
export async function startStompProxy(target: string, rules: StompProxyRules): Promise<StompProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const broker = connect(Number(upstream.port), upstream.hostname);
    for (const socket of [client, broker]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        broker.destroy();
      });
    }
    // Client to broker: one chain, so that a held frame keeps every later one behind it.
    let upstreamChain = Promise.resolve();
    const fromClient = new FrameReader((raw, frame) => {
      const hold = frame ? rules.fromClient?.(frame) : undefined;
      upstreamChain = upstreamChain.then(() => hold).then(() => void (broker.destroyed || broker.write(raw, 'latin1')));
    });
    const fromBroker = new FrameReader((raw, frame) => {
      const hold = frame ? rules.fromBroker?.(frame) : undefined;
      if (hold) void hold.then(() => client.destroyed || client.write(raw, 'latin1'));
      else client.write(raw, 'latin1');
    });
    client.setEncoding('latin1');
    broker.setEncoding('latin1');
    client.on('data', (chunk: string) => fromClient.push(chunk));
    broker.on('data', (chunk: string) => fromBroker.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.href,
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

/**
 * Cuts a byte stream, read as latin1 (one character per byte, so content-length counts characters),
 * into STOMP frames (content-length or NUL-terminated bodies) and heart-beats.
 */
class FrameReader {
  private buffer = '';

  constructor(private readonly emit: (raw: string, frame: SeenFrame | undefined) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const heartBeat = /^\r?\n/.exec(this.buffer);
      if (heartBeat) {
        this.emit(this.take(heartBeat[0].length), undefined);
        continue;
      }
      const head = /\r?\n\r?\n/.exec(this.buffer);
      if (!head) return;
      const [command, ...lines] = this.buffer.slice(0, head.index).split(/\r?\n/);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        // The first occurrence of a repeated header is the one that counts (STOMP 1.2).
        if (colon > 0 && !(line.slice(0, colon) in headers)) headers[line.slice(0, colon)] = line.slice(colon + 1);
      }
      const bodyStart = head.index + head[0].length;
      const length = headers['content-length'];
      const nul = length === undefined ? this.buffer.indexOf('\0', bodyStart) : bodyStart + Number(length);
      if (nul === -1 || nul >= this.buffer.length) return;
      this.emit(this.take(nul + 1), { command: command ?? '', headers });
    }
  }

  private take(length: number): string {
    const taken = this.buffer.slice(0, length);
    this.buffer = this.buffer.slice(length);
    return taken;
  }
}
