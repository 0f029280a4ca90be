// An Express app, unchanged for Lambda: lambda-adapter forwards each request to it.
const express = require("express");

const app = express();
app.use(express.json());

const todos = [{ id: 1, title: "try lambda-adapter", done: true }];

app.get("/", (req, res) => res.type("text").send("Hello from Express behind lambda-adapter\n"));

app.get("/todos", (req, res) => res.json(todos));

app.post("/todos", (req, res) => {
  if (!req.body || !req.body.title) return res.status(400).json({ error: "title is required" });
  const todo = { id: todos.length + 1, title: req.body.title, done: false };
  todos.push(todo);
  res.status(201).json(todo);
});

// Cookies: several Set-Cookie headers all reach the client.
app.get("/login", (req, res) => {
  res.cookie("session", "abc123", { httpOnly: true });
  res.cookie("theme", "dark");
  res.json({ loggedIn: true, cookieHeader: req.headers.cookie || null });
});

// AWS_LWA_PORT, else PORT, else 8080: the order the adapter reads them in.
const port = Number(process.env.AWS_LWA_PORT || process.env.PORT || 8080);
app.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}`));
