// A Java web app with the JDK's own HTTP server (com.sun.net.httpserver), no dependencies, unchanged
// for Lambda (SPEC PKG-5): lambda-adapter forwards each request to it.
//
//   GET  /             what this is
//   POST /links        the body is a URL: stores it under a short code (201, Location: /l/CODE)
//   GET  /links        every link, as JSON
//   GET  /l/CODE       a 302 redirect to the stored URL, or 404
//   GET  /context      the Lambda request id the adapter passed in x-amzn-lambda-context

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class App {
    private static final Map<String, String> LINKS = new ConcurrentSkipListMap<>();
    private static final AtomicInteger NEXT = new AtomicInteger(1000);
    private static final Pattern REQUEST_ID = Pattern.compile("\"request_id\"\\s*:\\s*\"([^\"]*)\"");

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(firstSet("AWS_LWA_PORT", "PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        server.createContext("/", App::route);
        // One thread per request at once: Lambda Managed Instances send several invocations together.
        server.setExecutor(Executors.newFixedThreadPool(8));
        server.start();
        System.out.println("listening on http://127.0.0.1:" + port);
    }

    /** AWS_LWA_PORT, else PORT, else the default: the order the adapter reads them in. */
    private static String firstSet(String first, String second, String fallback) {
        for (String name : new String[] {first, second}) {
            String value = System.getenv(name);
            if (value != null && !value.isEmpty()) {
                return value;
            }
        }
        return fallback;
    }

    private static void route(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath();
            if (path.equals("/") && method.equals("GET")) {
                send(exchange, 200, "text/plain; charset=utf-8", "Hello from Java behind lambda-adapter\n");
            } else if (path.equals("/links") && method.equals("POST")) {
                shorten(exchange);
            } else if (path.equals("/links") && method.equals("GET")) {
                send(exchange, 200, "application/json", linksJson());
            } else if (path.startsWith("/l/") && method.equals("GET")) {
                String target = LINKS.get(path.substring(3));
                if (target == null) {
                    send(exchange, 404, "application/json", "{\"error\":\"no such link\"}");
                } else {
                    exchange.getResponseHeaders().set("Location", target);
                    send(exchange, 302, "text/plain", "");
                }
            } else if (path.equals("/context") && method.equals("GET")) {
                String context = exchange.getRequestHeaders().getFirst("x-amzn-lambda-context");
                Matcher id = REQUEST_ID.matcher(context == null ? "" : context);
                send(exchange, 200, "application/json",
                        "{\"request_id\":" + (id.find() ? json(id.group(1)) : "null") + "}");
            } else {
                send(exchange, 404, "application/json", "{\"error\":\"not found\"}");
            }
        }
    }

    private static void shorten(HttpExchange exchange) throws IOException {
        String url = new String(exchange.getRequestBody().readNBytes(4096), StandardCharsets.UTF_8).trim();
        try {
            URI uri = new URI(url);
            if (!"https".equals(uri.getScheme()) && !"http".equals(uri.getScheme())) {
                throw new URISyntaxException(url, "not an http(s) URL");
            }
        } catch (URISyntaxException e) {
            send(exchange, 400, "application/json", "{\"error\":" + json("send an http(s) URL as the body") + "}");
            return;
        }
        String code = Integer.toString(NEXT.getAndIncrement(), 36);
        LINKS.put(code, url);
        exchange.getResponseHeaders().set("Location", "/l/" + code);
        send(exchange, 201, "application/json", "{\"code\":" + json(code) + ",\"url\":" + json(url) + "}");
    }

    private static String linksJson() {
        StringBuilder out = new StringBuilder("{");
        LINKS.forEach((code, url) -> out.append(out.length() > 1 ? "," : "").append(json(code)).append(':').append(json(url)));
        return out.append('}').toString();
    }

    /** A JSON string literal. */
    private static String json(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
