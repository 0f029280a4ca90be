<?php
// The bench's small app on PHP's built-in server (`php -S 127.0.0.1:PORT router.php`; bench
// scenario (h)). GET /small answers the ~100 bytes of JSON in $BENCH_SMALL_JSON, POST /echo the
// request body back.
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($_SERVER['REQUEST_METHOD'] === 'GET' && $path === '/small') {
    $body = file_get_contents(getenv('BENCH_SMALL_JSON'));
    header('Content-Type: application/json');
} elseif ($_SERVER['REQUEST_METHOD'] === 'POST' && $path === '/echo') {
    $body = file_get_contents('php://input');
    header('Content-Type: text/plain');
} else {
    http_response_code(404);
    $body = "not found\n";
}
header('Content-Length: ' . strlen($body));
echo $body;
