//! An axum app, unchanged for Lambda: lambda-adapter forwards each request to it.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Greeting {
    name: String,
}

async fn index() -> &'static str {
    "Hello from axum behind lambda-adapter\n"
}

async fn hello(Path(name): Path<String>, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    Json(json!({ "hello": name, "lang": query.get("lang") }))
}

async fn greet(Json(greeting): Json<Greeting>) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({ "greeting": format!("Hi, {}!", greeting.name) })))
}

/// What the adapter tells the app about the invocation.
async fn context(headers: HeaderMap) -> Json<Value> {
    let lambda: Value = headers
        .get("x-amzn-lambda-context")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or(Value::Null);
    Json(json!({ "request_id": lambda["request_id"] }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // AWS_LWA_PORT, else PORT, else 8080: the order the adapter reads them in.
    let port = ["AWS_LWA_PORT", "PORT"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| "8080".to_string());
    let app = Router::new()
        .route("/", get(index))
        .route("/hello/{name}", get(hello))
        .route("/greet", post(greet))
        .route("/context", get(context));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
