import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import { PinoPretty } from "pino-pretty";

/**
 * Where a service's log lines go: readable, coloured, one line per event for a person at a
 * terminal; JSON (pino's default, `undefined` here) for everything else, log collectors included.
 */
export function logDestination(isTTY = Boolean(process.stdout.isTTY)): NodeJS.WritableStream | undefined {
  if (!isTTY) return undefined;
  return PinoPretty({
    colorize: true,
    singleLine: true,
    // Synchronous, like pino's own stdout writes: a crash loses no line.
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
}

/**
 * Fastify's request lines, at debug for the routes `quiet` names (callbacks a run makes hundreds
 * of, heartbeats, scrapes), so info shows what a person cares about. Errors stay at error.
 */
export class QuietRequests extends LogController {
  constructor(
    private readonly quiet: (url: string) => boolean,
    requestIdLogLabel?: string,
  ) {
    super({ requestIdLogLabel });
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (this.quiet(request.url)) request.log.debug({ req: request }, "incoming request");
    else super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!error && this.quiet(request.url)) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
    else super.requestCompleted(error, request, reply);
  }
}
