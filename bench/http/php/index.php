<?php
// The keycast counter page and its + / - form POSTs written the way a PHP
// developer would: one front controller, plain PHP templates, pgsql with a
// persistent connection. It does the same work as fcgi/pages.c: the same
// SQL (prepared once per connection, like keycast-fcgi's db.c), the same
// HTML (layout around the fragment, HTML-escaped), the same headers, the
// same cross-site check, 303 back to the page after a form POST.
declare(strict_types=1);

function e($s): string
{
	return htmlspecialchars((string)$s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function render(string $tpl, array $vars): string
{
	extract($vars);
	ob_start();
	include __DIR__ . "/templates/$tpl.php";
	return ob_get_clean();
}

function send(int $status, string $type, string $body, array $headers = []): void
{
	http_response_code($status);
	header("Content-Type: $type");
	foreach ($headers as $h)
		header($h);
	header('Content-Length: ' . strlen($body));
	echo $body;
}

function fail(int $status, string $msg, array $headers = []): void
{
	send($status, 'text/plain; charset=utf-8', "$msg\n", $headers);
}

// KC_PHP_DRIVER (pool env): "pgsql" (default) uses pg_pconnect and named
// prepared statements; "pdo" uses a persistent PDO with emulated prepares.
// pg_pconnect sends "RESET ALL" every time a request picks the persistent
// link up (php_pgsql_do_connect), one more round trip per request; PDO's
// persistent handle does not, and emulated prepares make the query itself
// a single round trip. bench/http.sh runs the pgsql flavour, the one the
// PHP manual leads to; the pdo one is there to check that choice.
function db()
{
	static $c = null;
	if ($c !== null)
		return $c;
	$info = getenv('KC_CONNINFO');
	if (getenv('KC_PHP_DRIVER') === 'pdo') {
		try {
			$c = new PDO('pgsql:' . str_replace(' ', ';', $info) .
			    ';application_name=bench-php;connect_timeout=2', null, null, [
				PDO::ATTR_PERSISTENT => true,
				PDO::ATTR_EMULATE_PREPARES => true,
				PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
			]);
		} catch (PDOException $e) {
			error_log($e->getMessage());
			return $c = false;
		}
		return $c;
	}
	$c = @pg_pconnect("$info application_name=bench-php connect_timeout=2");
	if ($c === false || pg_connection_status($c) !== PGSQL_CONNECTION_OK)
		return $c = false;
	return $c;
}

// Runs one statement; returns its first row (false when there is none) or
// null on failure. With pgsql the statement is prepared the first time
// this persistent connection sees it (a failed EXECUTE of an unknown
// statement outside a transaction costs nothing else).
function q($c, string $name, string $sql, array $params)
{
	if ($c instanceof PDO) {
		try {
			// PDO spells placeholders "?", not "$1".
			$st = $c->prepare(preg_replace('/\$[0-9]+/', '?', $sql));
			$st->execute($params);
			return $st->fetch(PDO::FETCH_NUM);
		} catch (PDOException $e) {
			error_log("$name: " . $e->getMessage());
			return null;
		}
	}
	$r = @pg_execute($c, $name, $params);
	if ($r === false) {
		if (@pg_prepare($c, $name, $sql) === false) {
			error_log("$name: " . pg_last_error($c));
			return null;
		}
		$r = pg_execute($c, $name, $params);
		if ($r === false)
			return null;
	}
	return pg_fetch_row($r);
}

function cross_site(): bool
{
	if (($_SERVER['HTTP_SEC_FETCH_SITE'] ?? '') === 'cross-site')
		return true;
	$origin = $_SERVER['HTTP_ORIGIN'] ?? null;
	if ($origin === null)
		return false;
	$p = strpos($origin, '://');
	if ($p === false)
		return true;
	$h = substr($origin, $p + 3);
	$s = strpos($h, '/');
	if ($s !== false)
		$h = substr($h, 0, $s);
	return strcasecmp($h, $_SERVER['HTTP_HOST'] ?? '') !== 0;
}

function page_counter(): void
{
	$c = db();
	if ($c === false) {
		fail(503, 'The database is unavailable right now; try again shortly.', ['Retry-After: 1']);
		return;
	}
	$row = q($c, 'counter_get', 'SELECT value FROM counters WHERE name = $1', ['global']);
	if ($row === null) {
		fail(500, 'Something went wrong on our side.');
		return;
	}
	$value = $row === false ? '0' : $row[0];
	$fragment = render('counter', ['value' => $value]);
	$html = render('layout', ['title' => 'Shared Real-Time Counter',
	    'key' => '/counter', 'fragment' => $fragment]);
	send(200, 'text/html; charset=utf-8', $html, ['Cache-Control: no-store']);
}

function counter_add(string $delta): void
{
	if (cross_site()) {
		fail(403, 'Cross-site form posts are refused.');
		return;
	}
	$c = db();
	if ($c === false) {
		fail(503, 'The database is unavailable right now; try again shortly.', ['Retry-After: 1']);
		return;
	}
	$row = q($c, 'counter_add',
	    'INSERT INTO counters (name, value) VALUES ($1, $2::bigint) ' .
	    'ON CONFLICT (name) DO UPDATE SET value = counters.value + ' .
	    'EXCLUDED.value, updated_at = now() RETURNING value', ['global', $delta]);
	if ($row === null) {
		fail(500, 'Something went wrong on our side.');
		return;
	}
	if (($_SERVER['HTTP_X_KEYCAST'] ?? '') === '1') {
		http_response_code(204);
		return;
	}
	send(303, 'text/plain; charset=utf-8', "See /counter\n", ['Location: /counter']);
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?? '/');
$routes = [
	'/counter' => ['GET', fn() => page_counter()],
	'/api/counter/increment' => ['POST', fn() => counter_add('1')],
	'/api/counter/decrement' => ['POST', fn() => counter_add('-1')],
];
if (!isset($routes[$path])) {
	fail(404, 'There is no page at this address.');
} else {
	[$allow, $handler] = $routes[$path];
	if ($method === $allow || ($allow === 'GET' && $method === 'HEAD'))
		$handler();
	else
		fail(405, 'This address does not accept that method.', ["Allow: $allow" . ($allow === 'GET' ? ', HEAD' : '')]);
}
