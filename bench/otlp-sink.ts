/**
 * Where the traced cases send their spans: an OTLP/HTTP endpoint that
 * accepts every export and keeps nothing, so that a case measures what
 * tracing costs the app (spans, protobuf, HTTP export), not a collector's
 * own work. It runs in the runner's process, on the server cores.
 */
import { createServer, type Server } from 'node:http';
import { BENCH_PORT_OFFSET } from './stack.js';

/** The sink's port; TESSERA_BENCH_PORT_OFFSET moves it with the bench stack's. */
export const OTLP_SINK_PORT = 14318 + BENCH_PORT_OFFSET;
export const OTLP_SINK_URL = `http://127.0.0.1:${OTLP_SINK_PORT}`;

/** A running sink: what it received, and how to stop it. */
export interface OtlpSink {
  exports: number;
  bytes: number;
  stop(): Promise<void>;
}

/** Starts the sink on {@link OTLP_SINK_PORT}. */
export async function startOtlpSink(): Promise<OtlpSink> {
  const sink = { exports: 0, bytes: 0 } as OtlpSink;
  const server: Server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      sink.bytes += chunk.length;
    });
    req.on('end', () => {
      sink.exports += 1;
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' }).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(OTLP_SINK_PORT, '127.0.0.1', () => resolve());
  });
  sink.stop = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return sink;
}
