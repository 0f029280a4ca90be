<?php
// A plain PHP app (no framework), unchanged for Lambda (SPEC PKG-5): the PHP built-in server's
// router script. lambda-adapter forwards each request to it.
//
//   GET  /             a guestbook page with a form, and an upload form
//   POST /guestbook    a form POST (application/x-www-form-urlencoded): adds an entry, 303 to /
//   POST /upload       a file upload (multipart/form-data): answers what arrived, as JSON
//   GET  /health       the readiness check

declare(strict_types=1);

// Entries live in a file under /tmp (run.sh names it): the only writable place on Lambda, and shared
// by the PHP server's workers. It lasts as long as the execution environment.
define('BOOK', getenv('GUESTBOOK_FILE') ?: '/tmp/guestbook.json');

function entries(): array
{
    $raw = @file_get_contents(BOOK);
    $list = $raw === false ? [] : json_decode($raw, true);
    return is_array($list) ? $list : [];
}

function json_answer(int $status, array $body): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body, JSON_UNESCAPED_SLASHES), "\n";
}

function page(): void
{
    header('Content-Type: text/html; charset=utf-8');
    echo "<!doctype html>\n<title>Guestbook</title>\n<h1>Guestbook</h1>\n<ul>\n";
    foreach (entries() as $entry) {
        printf("  <li>%s: %s</li>\n", htmlspecialchars($entry['name']), htmlspecialchars($entry['message']));
    }
    echo <<<HTML
    </ul>
    <form method="post" action="/guestbook">
      <input name="name" placeholder="name"> <input name="message" placeholder="message">
      <button>Sign</button>
    </form>
    <form method="post" action="/upload" enctype="multipart/form-data">
      <input type="file" name="file"> <input name="note" placeholder="note"> <button>Upload</button>
    </form>

    HTML;
}

function sign(): void
{
    $name = trim((string)($_POST['name'] ?? ''));
    $message = trim((string)($_POST['message'] ?? ''));
    if ($name === '' || $message === '') {
        json_answer(400, ['error' => 'name and message are required']);
        return;
    }
    $fp = fopen(BOOK, 'c+');
    flock($fp, LOCK_EX);
    $list = json_decode(stream_get_contents($fp) ?: '[]', true) ?: [];
    $list[] = ['name' => $name, 'message' => $message];
    ftruncate($fp, 0);
    rewind($fp);
    fwrite($fp, json_encode($list));
    flock($fp, LOCK_UN);
    fclose($fp);
    header('Location: /', true, 303);
}

function upload(): void
{
    $file = $_FILES['file'] ?? null;
    if ($file === null || $file['error'] !== UPLOAD_ERR_OK) {
        json_answer(400, ['error' => 'no file arrived', 'code' => $file['error'] ?? null]);
        return;
    }
    // A real app would store it (S3); this one says what it received, so a client can check it.
    json_answer(200, [
        'name' => $file['name'],
        'type' => $file['type'],
        'size' => $file['size'],
        'sha256' => hash_file('sha256', $file['tmp_name']),
        'note' => $_POST['note'] ?? null,
    ]);
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];
match (true) {
    $path === '/' && $method === 'GET' => page(),
    $path === '/health' => json_answer(200, ['ok' => true]),
    $path === '/guestbook' && $method === 'POST' => sign(),
    $path === '/upload' && $method === 'POST' => upload(),
    default => json_answer(404, ['error' => "no route for $method $path"]),
};
