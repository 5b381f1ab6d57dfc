import net from "node:net";

/**
 * A slowloris client: opens a connection to `url`, sends a POST to `path` whose body never arrives
 * in full, and resolves with what the server wrote before it closed the connection. Rejects when
 * the server still holds the connection after `withinMs`.
 */
export function unfinishedRequest(url: string, path: string, withinMs: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let answer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server still held the connection after ${withinMs} ms`));
    }, withinMs);
    socket.once("connect", () => socket.write(`POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"prompt":"x"}`));
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    // A reset after the answer is how some servers close: what was written is the result.
    socket.on("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}
