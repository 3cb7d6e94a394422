<section class="card counter">
  <h1>Shared Real-Time Counter</h1>
  <output id="count" aria-live="polite"><?= e($value) ?></output>
  <div class="counter-buttons">
    <form method="post" action="/api/counter/decrement">
      <button type="submit" class="btn" aria-label="Decrement">−</button>
    </form>
    <form method="post" action="/api/counter/increment">
      <button type="submit" class="btn" aria-label="Increment">+</button>
    </form>
  </div>
  <p class="hint">Open this page in two windows and click.</p>
</section>
