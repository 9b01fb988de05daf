// The Node peer for bench/ingress: what a user would most likely write with
// @octokit/webhooks. Verifies X-Hub-Signature-256, parses and dispatches the
// event (verifyAndReceive), then answers 202.
import http from "node:http";
import { Webhooks } from "@octokit/webhooks";

const secret = process.env.ENVGATE_WEBHOOK_SECRET;
const [host, port] = (process.env.BENCH_LISTEN || "127.0.0.1:8091").split(":");
if (!secret) {
  console.error("ENVGATE_WEBHOOK_SECRET is required");
  process.exit(2);
}

const webhooks = new Webhooks({ secret });
let received = 0;
webhooks.on("deployment_protection_rule.requested", () => {
  received++;
});

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      await webhooks.verifyAndReceive({
        id: req.headers["x-github-delivery"],
        name: req.headers["x-github-event"],
        payload: Buffer.concat(chunks).toString("utf8"),
        signature: req.headers["x-hub-signature-256"],
      });
      res.writeHead(202).end();
    } catch {
      res.writeHead(401).end();
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), host, () => console.log(`listening ${host}:${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
