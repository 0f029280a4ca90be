// The bench's small app in Express (bench scenario (h)); express comes from $NODE_PATH.
// GET /small answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, POST /echo the request body back.
// Usage: node express_app.js PORT
"use strict";
const fs = require("fs");
const express = require("express");

const SMALL = fs.readFileSync(process.env.BENCH_SMALL_JSON);
const app = express();

app.get("/small", (req, res) => {
  res.type("application/json").send(SMALL);
});

app.post("/echo", express.raw({ type: "*/*", limit: "1mb" }), (req, res) => {
  res.type("text/plain").send(req.body);
});

app.listen(Number(process.argv[2]), "127.0.0.1");
