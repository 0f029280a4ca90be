// The bench's small app on Node's own `http` module (bench scenario (h)).
// GET /small answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, POST /echo the request body back.
// Usage: node node_http.js PORT
"use strict";
const fs = require("fs");
const http = require("http");

const SMALL = fs.readFileSync(process.env.BENCH_SMALL_JSON);

function answer(res, body, contentType) {
  res.writeHead(200, { "Content-Type": contentType, "Content-Length": body.length });
  res.end(body);
}

http
  .createServer((req, res) => {
    if (req.method === "GET" && req.url === "/small") {
      answer(res, SMALL, "application/json");
    } else if (req.method === "POST" && req.url === "/echo") {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", () => answer(res, Buffer.concat(chunks), "text/plain"));
    } else {
      res.writeHead(404).end();
    }
  })
  .listen(Number(process.argv[2]), "127.0.0.1");
