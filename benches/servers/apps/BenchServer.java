// The bench's small app on the JDK's built-in com.sun.net.httpserver (bench scenario (h); SPEC
// ERR-5: it writes a response's head and body in separate writes with Nagle's algorithm on).
// GET /small answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, POST /echo the request body back.
// Usage: java BenchServer.java PORT
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executors;

public class BenchServer {
    static void answer(HttpExchange exchange, byte[] body, String contentType) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    public static void main(String[] args) throws IOException {
        byte[] small = Files.readAllBytes(Path.of(System.getenv("BENCH_SMALL_JSON")));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 64);
        server.createContext("/small", exchange -> answer(exchange, small, "application/json"));
        server.createContext("/echo", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            answer(exchange, body, "text/plain");
        });
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
    }
}
