/*
 * keycast.js: the browser side of keycast. No build step, no inline script.
 *
 * The layout's realtime root <div data-rt-root data-rt-key="KEY"> is enough:
 * this script opens ws(s)://HOST/__realtime?key=KEY&url=PATH+QUERY and morphs
 * the root to every text frame it receives (each is the root's complete new
 * inner HTML), keeping focus, caret, selection, typed-but-unsent input and
 * scroll positions. It reconnects with capped exponential backoff and full
 * jitter, and posts the root's method="post" forms with fetch (header
 * X-Keycast: 1, so the app answers 204): the submit buttons are disabled in
 * flight, an error answer or a network failure is shown in a
 * <p class="form-error" role="alert"> inside the form, and after success the
 * "text" field (and any field marked data-rt-clear) is emptied. The page
 * itself changes only through the push, the same path as every other viewer.
 *
 * Manual wiring: put data-rt-manual on the root (or have no root) and call
 *   window.initRealtimeClient({ key, url, root })
 * A second call returns the client already running (one socket per page)
 * and warns once. client.close() stops it for good.
 *
 * State on the root: data-rt-state="connecting|live|offline"; after a close
 * that means "do not retry" (4400, 4403, 4404) also data-rt-closed="CODE".
 * Events on the root: "keycast:update" after each applied frame,
 * "keycast:state" on each state change (detail: { state }).
 * An element with data-rt-scroll="bottom" starts scrolled to its end and
 * stays at the end while the reader is there (chat logs).
 * DOM morphing: idiomorph (npm), served from static/vendor/ by the build.
 */
(function () {
	"use strict";

	var BACKOFF_MIN = 250;		/* ms: first retry window */
	var BACKOFF_MAX = 10000;	/* ms: retry window cap */
	var STABLE_AFTER = 5000;	/* ms live before the backoff resets */
	var POST_TIMEOUT = 15000;	/* ms before a form post counts as failed */
	var NO_RETRY = { 4400: 1, 4403: 1, 4404: 1 };

	var script = document.currentScript;
	var vendorURL = script && script.src ?
	    script.src.replace(/keycast\.js(\?.*)?$/, "vendor/idiomorph.min.js") :
	    "/static/vendor/idiomorph.min.js";

	var client = null;
	var warnedTwice = false;

	/* ---- the morphing library ---------------------------------------- */

	var morphReady = null;

	/* Resolves to window.Idiomorph, or null if it cannot be loaded (the
	 * client then swaps innerHTML and restores what it can by hand). */
	function loadMorph() {
		if (morphReady)
			return morphReady;
		morphReady = new Promise(function (resolve) {
			if (window.Idiomorph) {
				resolve(window.Idiomorph);
				return;
			}
			var s = document.createElement("script");
			s.src = vendorURL;
			s.async = true;
			s.onload = function () { resolve(window.Idiomorph || null); };
			s.onerror = function () {
				console.error("keycast: could not load " + vendorURL +
				    " (run make); updating pages without morphing");
				resolve(null);
			};
			(document.head || document.documentElement).appendChild(s);
		});
		return morphReady;
	}

	/* ---- form controls ----------------------------------------------- */

	function isTextControl(el) {
		if (el instanceof HTMLTextAreaElement)
			return true;
		if (!(el instanceof HTMLInputElement))
			return false;
		switch (el.type) {
		case "checkbox": case "radio": case "file": case "hidden":
		case "submit": case "button": case "reset": case "image":
			return false;
		}
		return true;
	}

	/* Has the user changed this control away from what the server sent? */
	function isDirty(el) {
		if (isTextControl(el))
			return el.value !== el.defaultValue;
		if (el instanceof HTMLInputElement &&
		    (el.type === "checkbox" || el.type === "radio"))
			return el.checked !== el.defaultChecked;
		if (el instanceof HTMLOptionElement)
			return el.selected !== el.defaultSelected;
		return false;
	}

	/* A stable name for a control across a full re-render (fallback path
	 * and focus recovery when the morph had to replace the element). */
	function controlSelector(el) {
		if (el.id)
			return "#" + cssEscape(el.id);
		if (el.name) {
			var sel = "[name=\"" + el.name.replace(/["\\]/g, "\\$&") + "\"]";
			var f = el.form;
			if (f && f.getAttribute("action"))
				return "form[action=\"" + f.getAttribute("action")
				    .replace(/["\\]/g, "\\$&") + "\"] " + sel;
			return sel;
		}
		return null;
	}

	function cssEscape(s) {
		return window.CSS && CSS.escape ? CSS.escape(s) :
		    s.replace(/[^\w-]/g, "\\$&");
	}

	function selectionOf(el) {
		try {
			if (el.selectionStart == null)
				return null;
			return { start: el.selectionStart, end: el.selectionEnd,
			    dir: el.selectionDirection || "none" };
		} catch (e) {
			return null;	/* type=email, number...: no selection API */
		}
	}

	function setSelection(el, sel) {
		if (!sel)
			return;
		try {
			if (el.selectionStart !== sel.start || el.selectionEnd !== sel.end)
				el.setSelectionRange(sel.start, sel.end, sel.dir);
		} catch (e) { /* not a text control any more */ }
	}

	/* ---- the client --------------------------------------------------- */

	function Client(key, url, root) {
		this.key = key;
		this.url = url;
		this.root = root;
		this.state = null;
		this.ws = null;
		this.attempt = 0;
		this.retryTimer = 0;
		this.stableTimer = 0;
		this.closedCode = 0;
		this.stopped = false;
		this.morph = undefined;		/* undefined: still loading */
		this.pending = null;		/* latest frame while loading */
		this.lastHTML = null;
		this.scrollers = new Set();	/* elements the user scrolled */
		this.inflight = new WeakSet();	/* forms and their buttons */

		var self = this;
		this.onOnline = function () { self.retryNow(); };
		this.onVisible = function () {
			if (document.visibilityState === "visible")
				self.retryNow();
		};
		this.onPageHide = function (e) {
			if (e.persisted)
				self.suspend();
		};
		this.onPageShow = function (e) {
			if (e.persisted)
				self.retryNow();
		};
		this.onScroll = function (e) {
			var t = e.target;
			if (t instanceof Element && t !== self.root)
				self.scrollers.add(t);
		};
		this.onSubmit = function (e) { self.submit(e); };

		window.addEventListener("online", this.onOnline);
		window.addEventListener("pagehide", this.onPageHide);
		window.addEventListener("pageshow", this.onPageShow);
		document.addEventListener("visibilitychange", this.onVisible);
		root.addEventListener("scroll", this.onScroll, true);
		root.addEventListener("submit", this.onSubmit);

		this.stickToBottom();
		loadMorph().then(function (m) {
			self.morph = m;
			if (self.pending !== null) {
				var html = self.pending;
				self.pending = null;
				self.apply(html);
			}
		});
		this.connect();
	}

	Client.prototype.socketURL = function () {
		return (location.protocol === "https:" ? "wss://" : "ws://") +
		    location.host + "/__realtime?key=" + encodeURIComponent(this.key) +
		    "&url=" + encodeURIComponent(this.url);
	};

	Client.prototype.setState = function (state) {
		if (this.state === state)
			return;
		this.state = state;
		this.root.setAttribute("data-rt-state", state);
		this.root.dispatchEvent(new CustomEvent("keycast:state",
		    { detail: { state: state } }));
	};

	Client.prototype.connect = function () {
		var self = this, ws;

		clearTimeout(this.retryTimer);
		this.retryTimer = 0;
		if (this.stopped || this.closedCode || this.ws)
			return;
		this.setState("connecting");
		try {
			ws = new WebSocket(this.socketURL());
		} catch (e) {
			console.error("keycast: " + e.message);
			this.fail(4400);
			return;
		}
		this.ws = ws;
		ws.onopen = function () {
			if (self.ws !== ws)
				return;
			self.setState("live");
			self.stableTimer = setTimeout(function () {
				self.attempt = 0;
			}, STABLE_AFTER);
		};
		ws.onmessage = function (e) {
			if (self.ws === ws && typeof e.data === "string")
				self.receive(e.data);
		};
		ws.onclose = function (e) {
			if (self.ws !== ws)
				return;
			self.ws = null;
			clearTimeout(self.stableTimer);
			if (NO_RETRY[e.code]) {
				console.warn("keycast: the server closed the live " +
				    "connection with " + e.code + (e.reason ? " (" +
				    e.reason + ")" : "") + "; not reconnecting");
				self.fail(e.code);
				return;
			}
			self.scheduleRetry();
		};
		ws.onerror = function () { /* onclose follows */ };
	};

	Client.prototype.fail = function (code) {
		this.closedCode = code;
		this.root.setAttribute("data-rt-closed", String(code));
		this.setState("offline");
	};

	/* Full jitter: wait uniformly in [0, min(cap, base * 2^attempt)). */
	Client.prototype.scheduleRetry = function () {
		var self = this, cap, delay;

		if (this.stopped || this.closedCode)
			return;
		this.setState("offline");
		cap = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, this.attempt));
		delay = Math.random() * cap;
		if (this.attempt < 16)
			this.attempt++;
		clearTimeout(this.retryTimer);
		this.retryTimer = setTimeout(function () { self.connect(); }, delay);
	};

	/* online, tab visible again, back from the bfcache: skip the wait. */
	Client.prototype.retryNow = function () {
		this.stopped = false;
		if (!this.ws && !this.closedCode)
			this.connect();
	};

	Client.prototype.suspend = function () {
		var ws = this.ws;

		this.stopped = true;
		clearTimeout(this.retryTimer);
		clearTimeout(this.stableTimer);
		this.ws = null;
		if (ws)
			ws.close(1000);
		this.setState("offline");
	};

	/* Stops for good: no socket, no listeners. */
	Client.prototype.close = function () {
		this.suspend();
		window.removeEventListener("online", this.onOnline);
		window.removeEventListener("pagehide", this.onPageHide);
		window.removeEventListener("pageshow", this.onPageShow);
		document.removeEventListener("visibilitychange", this.onVisible);
		this.root.removeEventListener("scroll", this.onScroll, true);
		this.root.removeEventListener("submit", this.onSubmit);
		if (client === this)
			client = null;
	};

	Client.prototype.receive = function (html) {
		if (this.morph === undefined) {
			this.pending = html;	/* only the latest one matters */
			return;
		}
		this.apply(html);
	};

	/* ---- applying a frame -------------------------------------------- */

	Client.prototype.apply = function (html) {
		if (html === this.lastHTML)
			return;
		this.lastHTML = html;
		var saved = this.save();
		try {
			if (this.morph)
				this.morphTo(html);
			else
				this.swapTo(html, saved);
		} finally {
			this.restore(saved);
		}
		this.root.dispatchEvent(new CustomEvent("keycast:update"));
	};

	Client.prototype.morphTo = function (html) {
		var inflight = this.inflight;

		this.morph.morph(this.root, html, {
			morphStyle: "innerHTML",
			ignoreActiveValue: true,
			restoreFocus: true,
			callbacks: {
				beforeAttributeUpdated: function (attr, el) {
					/* what the user typed or ticked wins */
					if ((attr === "value" || attr === "checked" ||
					    attr === "selected") && isDirty(el))
						return false;
					/* a post in flight keeps its button disabled */
					if (attr === "disabled" && inflight.has(el))
						return false;
				},
				beforeNodeRemoved: function (node) {
					/* our own form messages are not the server's */
					if (node.nodeType === 1 &&
					    node.hasAttribute("data-rt-local"))
						return false;
				}
			}
		});
	};

	/* Without idiomorph: replace the content, then put back typed text. */
	Client.prototype.swapTo = function (html, saved) {
		var locals = this.root.querySelectorAll("[data-rt-local]");
		var i, el, sel, f;

		this.root.innerHTML = html;
		for (i = 0; i < saved.dirty.length; i++) {
			el = this.root.querySelector(saved.dirty[i].sel);
			if (el && isTextControl(el))
				el.value = saved.dirty[i].value;
		}
		for (i = 0; i < locals.length; i++) {
			f = locals[i].getAttribute("data-rt-form");
			sel = f && this.root.querySelector("form[action=\"" +
			    f.replace(/["\\]/g, "\\$&") + "\"]");
			if (sel)
				sel.appendChild(locals[i]);
		}
	};

	Client.prototype.save = function () {
		var root = this.root, saved = { scroll: [], dirty: [] };
		var active = document.activeElement, list, i, el;

		saved.winX = window.scrollX;
		saved.winY = window.scrollY;
		if (active && active !== document.body && root.contains(active)) {
			saved.active = active;
			saved.activeSel = controlSelector(active);
			saved.selection = selectionOf(active);
			saved.value = isTextControl(active) ? active.value : null;
			saved.activeTop = active.scrollTop;
			saved.activeLeft = active.scrollLeft;
		}
		this.scrollers.forEach(function (s) {
			if (!s.isConnected || !root.contains(s))
				this.scrollers.delete(s);
		}, this);
		list = Array.from(this.scrollers);
		root.querySelectorAll("[data-rt-scroll]").forEach(function (s) {
			if (!this.scrollers.has(s))
				list.push(s);
		}, this);
		for (i = 0; i < list.length; i++) {
			el = list[i];
			saved.scroll.push({ el: el, top: el.scrollTop,
			    left: el.scrollLeft, atBottom: atBottom(el) });
		}
		if (!this.morph) {
			list = root.querySelectorAll("input, textarea");
			for (i = 0; i < list.length; i++) {
				el = list[i];
				if (el !== active && isDirty(el) && controlSelector(el))
					saved.dirty.push({ sel: controlSelector(el),
					    value: el.value });
			}
		}
		return saved;
	};

	Client.prototype.restore = function (saved) {
		var i, s, el;

		for (i = 0; i < saved.scroll.length; i++) {
			s = saved.scroll[i];
			if (!s.el.isConnected)
				continue;
			if (s.el.getAttribute("data-rt-scroll") === "bottom" &&
			    s.atBottom)
				s.el.scrollTop = s.el.scrollHeight;
			else if (s.el.scrollTop !== s.top)
				s.el.scrollTop = s.top;
			if (s.el.scrollLeft !== s.left)
				s.el.scrollLeft = s.left;
		}
		if (saved.active) {
			el = saved.active;
			if (!el.isConnected && saved.activeSel)
				el = this.root.querySelector(saved.activeSel);
			if (el) {
				if (el !== saved.active && saved.value !== null &&
				    isTextControl(el))
					el.value = saved.value;
				if (document.activeElement !== el)
					el.focus({ preventScroll: true });
				setSelection(el, saved.selection);
				if (el.scrollTop !== saved.activeTop)
					el.scrollTop = saved.activeTop;
				if (el.scrollLeft !== saved.activeLeft)
					el.scrollLeft = saved.activeLeft;
			}
		}
		if (window.scrollX !== saved.winX || window.scrollY !== saved.winY)
			window.scrollTo(saved.winX, saved.winY);
	};

	/* data-rt-scroll="bottom" elements start at their end. */
	Client.prototype.stickToBottom = function () {
		this.root.querySelectorAll("[data-rt-scroll=bottom]")
		    .forEach(function (el) { el.scrollTop = el.scrollHeight; });
	};

	function atBottom(el) {
		return el.scrollHeight - el.scrollTop - el.clientHeight < 8;
	}

	/* ---- forms ---------------------------------------------------------- */

	function submitButtons(form) {
		return Array.prototype.filter.call(form.elements, function (el) {
			return (el instanceof HTMLButtonElement ||
			    el instanceof HTMLInputElement) &&
			    (el.type === "submit" || el.type === "image");
		});
	}

	function formBody(form, submitter) {
		var fd;
		try {
			fd = new FormData(form, submitter || undefined);
		} catch (e) {	/* browsers before FormData(form, submitter) */
			fd = new FormData(form);
			if (submitter && submitter.name)
				fd.append(submitter.name, submitter.value);
		}
		var body = new URLSearchParams();
		fd.forEach(function (v, k) {
			body.append(k, typeof v === "string" ? v : v.name);
		});
		return body;
	}

	Client.prototype.submit = function (e) {
		var form = e.target, submitter = e.submitter || null;
		var method, action, target, self = this;

		if (e.defaultPrevented || !(form instanceof HTMLFormElement))
			return;
		method = submitter && submitter.hasAttribute("formmethod") ?
		    submitter.formMethod : form.method;
		action = submitter && submitter.hasAttribute("formaction") ?
		    submitter.formAction : form.action;
		target = submitter && submitter.hasAttribute("formtarget") ?
		    submitter.getAttribute("formtarget") : form.getAttribute("target");
		if (method !== "post" || (target && target !== "_self"))
			return;
		try {
			if (new URL(action, location.href).origin !== location.origin)
				return;
		} catch (err) {
			return;
		}
		e.preventDefault();
		if (this.inflight.has(form))
			return;		/* one post per form at a time */
		this.post(form, submitter, action);
	};

	Client.prototype.post = function (form, submitter, action) {
		var self = this, buttons = submitButtons(form);
		var hadFocus = submitter && document.activeElement === submitter;
		var body = formBody(form, submitter);
		var sent = clearable(form).map(function (el) {
			return { el: el, value: el.value };
		});
		var ctl = window.AbortController ? new AbortController() : null;
		var timer = ctl ? setTimeout(function () { ctl.abort(); },
		    POST_TIMEOUT) : 0;

		this.inflight.add(form);
		buttons.forEach(function (b) {
			self.inflight.add(b);
			b.disabled = true;
		});
		form.setAttribute("aria-busy", "true");
		showError(form, null);

		fetch(action, {
			method: "POST",
			headers: { "X-Keycast": "1" },
			body: body,
			credentials: "same-origin",
			signal: ctl ? ctl.signal : undefined
		}).then(function (res) {
			if (res.ok) {
				/* emptied unless the user typed on meanwhile */
				sent.forEach(function (f) {
					if (f.el.value === f.value)
						f.el.value = "";
				});
				return null;
			}
			return res.text().then(function (text) {
				return errorText(res, text);
			}, function () {
				return errorText(res, "");
			});
		}, function () {
			return navigator.onLine === false ?
			    "You are offline: nothing was sent. Try again when you are back online." :
			    "Network error: could not reach the server. Please try again.";
		}).then(function (message) {
			clearTimeout(timer);
			self.inflight.delete(form);
			buttons.forEach(function (b) {
				self.inflight.delete(b);
				b.disabled = false;
			});
			form.removeAttribute("aria-busy");
			if (message)
				showError(form, message);
			/* disabling the clicked button blurred it: give focus back */
			if (hadFocus && submitter.isConnected &&
			    (!document.activeElement ||
			    document.activeElement === document.body))
				submitter.focus({ preventScroll: true });
		});
	};

	function errorText(res, text) {
		var type = res.headers.get("Content-Type") || "";
		text = (text || "").trim();
		if (text && type.indexOf("text/plain") === 0 && text.length <= 300)
			return text;
		if (res.status === 422)
			return "The server did not accept this form.";
		return "The server answered " + res.status +
		    (res.statusText ? " " + res.statusText : "") +
		    ". Please try again.";
	}

	/* The fields a successful post empties: the message ("text") and any
	 * marked data-rt-clear. */
	function clearable(form) {
		return Array.prototype.filter.call(form.elements, function (el) {
			return isTextControl(el) && (el.name === "text" ||
			    el.hasAttribute("data-rt-clear"));
		});
	}

	/* The form's message: one <p class="form-error"> inside the form,
	 * marked data-rt-local so morphs leave it alone. null removes it. */
	function showError(form, message) {
		var p = form.querySelector(".form-error[data-rt-local]");
		if (!message) {
			if (p)
				p.remove();
			return;
		}
		if (!p) {
			p = document.createElement("p");
			p.className = "form-error";
			p.setAttribute("data-rt-local", "");
			p.setAttribute("role", "alert");
			if (form.getAttribute("action"))
				p.setAttribute("data-rt-form", form.getAttribute("action"));
			form.appendChild(p);
		}
		p.textContent = message;
	}

	/* ---- entry points ------------------------------------------------- */

	function resolveRoot(root) {
		if (typeof root === "string")
			return document.querySelector(root);
		if (root instanceof Element)
			return root;
		return document.querySelector("[data-rt-root]");
	}

	function initRealtimeClient(opts) {
		var root, key, url;

		opts = opts || {};
		if (client) {
			if (!warnedTwice) {
				warnedTwice = true;
				console.warn("keycast: initRealtimeClient was called " +
				    "again; returning the client already running " +
				    "(one socket per page)");
			}
			return client;
		}
		root = resolveRoot(opts.root);
		if (!root)
			throw new Error("keycast: no realtime root (an element " +
			    "with data-rt-root) on this page");
		key = opts.key || root.getAttribute("data-rt-key");
		if (!key)
			throw new Error("keycast: no key: pass { key } or set " +
			    "data-rt-key on the root");
		url = opts.url || location.pathname + location.search;
		client = new Client(key, url, root);
		return client;
	}

	window.initRealtimeClient = initRealtimeClient;

	function autoStart() {
		var root = document.querySelector("[data-rt-root]");
		if (!client && root && !root.hasAttribute("data-rt-manual") &&
		    root.getAttribute("data-rt-key"))
			initRealtimeClient({ root: root });
	}

	if (document.readyState === "loading")
		document.addEventListener("DOMContentLoaded", autoStart);
	else
		autoStart();
})();
