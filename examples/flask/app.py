"""A Flask app, unchanged for Lambda: lambda-adapter forwards each request to it."""

import os

from flask import Flask, jsonify, request

app = Flask(__name__)
BOOKS = {1: {"id": 1, "title": "The Pragmatic Programmer"}, 2: {"id": 2, "title": "Designing Data-Intensive Applications"}}


@app.get("/")
def index():
    return "Hello from Flask behind lambda-adapter\n"


@app.get("/books")
def books():
    return jsonify(sorted(BOOKS.values(), key=lambda b: b["id"]))


@app.get("/books/<int:book_id>")
def book(book_id):
    found = BOOKS.get(book_id)
    return (jsonify(found), 200) if found else (jsonify(error="no such book"), 404)


@app.post("/books")
def add_book():
    title = (request.get_json(silent=True) or {}).get("title")
    if not title:
        return jsonify(error="title is required"), 400
    book_id = max(BOOKS) + 1
    BOOKS[book_id] = {"id": book_id, "title": title}
    return jsonify(BOOKS[book_id]), 201


@app.get("/search")
def search():
    # Repeated query keys arrive as they were sent: /search?tag=a&tag=b
    return jsonify(tags=request.args.getlist("tag"), q=request.args.get("q"))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or "8080"))
