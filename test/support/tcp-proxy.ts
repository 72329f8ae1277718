// A TCP proxy the fault tests control, between Kafka clients and a private broker that advertises the
// proxy's port (scripts/kafka.sh KAFKA_ADVERTISED_PORT), so that every client connection goes through
// it. `cut()` is a network partition, `heal()` its end; the counters let a test assert what happened.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** 0 picks a free port (read it from `proxy.port`). */
  listenPort: number;
  /** 127.0.0.1 unless given. */
  listenHost?: string;
  targetHost: string;
  targetPort: number;
}

/** Connections since the start; `open` counts the forwarded ones still open. */
export interface TcpProxyCounters {
  accepted: number;
  forwarded: number;
  blackHoled: number;
  reset: number;
  open: number;
}

interface ForwardedConnection {
  client: Socket;
  upstream: Socket;
}

export class TcpProxy {
  readonly #options: TcpProxyOptions;
  readonly #server: Server;
  readonly #forwarded = new Set<ForwardedConnection>();
  readonly #held = new Set<Socket>();
  readonly #counts = { accepted: 0, forwarded: 0, blackHoled: 0, reset: 0 };
  #cut = false;

  private constructor(options: TcpProxyOptions) {
    this.#options = options;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on `listenPort` and forwards each connection to the target until `cut()`. */
  static async start(options: TcpProxyOptions): Promise<TcpProxy> {
    const proxy = new TcpProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(options.listenPort, options.listenHost ?? '127.0.0.1', () => {
        proxy.#server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  get isCut(): boolean {
    return this.#cut;
  }

  get counters(): TcpProxyCounters {
    return { ...this.#counts, open: this.#forwarded.size };
  }

  /**
   * A network partition: every open connection is reset on both sides (its peers see ECONNRESET, not
   * a clean close), and new connections are accepted but black-holed — never forwarded nor answered —,
   * as when packets are dropped: a client finds out only through its own timeouts (connect, request).
   */
  cut(): void {
    this.#cut = true;
    for (const connection of this.#forwarded) {
      this.#counts.reset++;
      connection.client.resetAndDestroy();
      connection.upstream.resetAndDestroy();
    }
    this.#forwarded.clear();
  }

  /**
   * Ends the partition: new connections are forwarded again. The ones black-holed during the cut never
   * reached the target; they are reset now, so their clients reconnect at once instead of waiting out
   * a timeout.
   */
  heal(): void {
    this.#cut = false;
    for (const socket of this.#held) {
      this.#counts.reset++;
      socket.resetAndDestroy();
    }
    this.#held.clear();
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.cut();
    this.heal();
    await closed;
  }

  #accept(client: Socket): void {
    this.#counts.accepted++;
    client.on('error', () => undefined); // resets are the point of this proxy
    if (this.#cut) {
      this.#counts.blackHoled++;
      client.pause();
      this.#held.add(client);
      client.once('close', () => this.#held.delete(client));
      return;
    }
    this.#counts.forwarded++;
    const upstream = connect({ host: this.#options.targetHost, port: this.#options.targetPort });
    const connection = { client, upstream };
    this.#forwarded.add(connection);
    upstream.on('error', () => undefined);
    // A reset on one side is passed on as a reset (a target that is down looks down to the client), a
    // clean end as a clean end once the data before it is written (pipe ends `to`).
    const passOn = (from: Socket, to: Socket) => {
      from.once('close', (hadError) => {
        this.#forwarded.delete(connection);
        if (hadError && !to.destroyed) to.resetAndDestroy();
      });
      from.pipe(to);
    };
    passOn(client, upstream);
    passOn(upstream, client);
  }
}
