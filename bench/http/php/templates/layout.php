<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><?= e($title) ?> · keycast</title>
<link rel="stylesheet" href="/static/keycast.css">
<script src="/static/keycast.js" defer></script>
</head>
<body>
<header class="topbar">
  <a class="brand" href="/"><span class="brand-dot" aria-hidden="true"></span>keycast</a>
  <nav>
    <a href="/counter">Counter</a>
    <a href="/chat/lobby">Chat</a>
  </nav>
</header>
<main>
<div data-rt-root data-rt-key="<?= e($key) ?>"><?= $fragment ?></div>
</main>
<footer class="foot">Server-rendered, pushed live over WebSocket.</footer>
</body>
</html>
