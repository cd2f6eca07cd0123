// A loopback reverse proxy for the conformance suite, which sends no
// credentials: it adds X-API-Key to every request and passes everything
// else (Host and Origin included, so the DNS-rebinding checks still see
// the values the suite chose) to the web server in front of the bridge.
// Responses are streamed back as they arrive (SSE).
// Usage: node proxy.mjs LISTEN_PORT UPSTREAM_PORT API_KEY  (prints the port)
import http from "node:http";

const [listenPort, upstreamPort, apiKey] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const headers = { ...req.headers, "x-api-key": apiKey };
  const up = http.request(
    { host: "127.0.0.1", port: Number(upstreamPort), method: req.method, path: req.url, headers },
    (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
  up.on("error", () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on("close", () => up.destroy());
  req.pipe(up);
});
server.listen(Number(listenPort), "127.0.0.1", () => console.log(String(listenPort)));
process.on("SIGTERM", () => process.exit(0));
