/*
 * keycast.js: the browser side of keycast. No build step, no inline script.
 * keycast.mjs is the same client as an ES module (it imports this file).
 *
 * Realtime roots: every <div data-rt-root data-rt-key="KEY"
 * [data-rt-url="URL"]> of the page shows the fragments of its (key, url)
 * pair. The main root (the first without data-rt-url) has the page's
 * path+query as url; another root without data-rt-url has url = its key.
 * All of them share ONE WebSocket, protocol v2 (docs/protocol.md):
 *   ws(s)://HOST/__realtime?v=2&key=K1&url=U1&key=K2&url=U2...
 * Each frame names its root: "F <version> <key> <url>\n<fragment>" (the
 * root's complete inner HTML) or "D <base> <version> <key> <url>\n<ops>"
 * (a diff from the fragment of version <base>). A root keeps the fragment
 * text and version it holds; a diff applies to that text and must give
 * <version> (FNV-1a of its UTF-8 bytes). A diff that does not (another
 * base, malformed ops, another result) changes nothing: the client sends
 * the one data frame it may send, "r", once, and pushd answers with every
 * root's full fragment. The root is morphed to each new fragment, keeping
 * focus, caret, selection, typed-but-unsent input and scroll positions.
 * An empty text frame is pushd's heartbeat (one every --ping-interval):
 * like every frame it proves the connection alive, and nothing else
 * happens. A pushd from before v2 ignores v and the pairs after the first,
 * and sends that one's fragments bare: the client then takes them so.
 *
 * Connection: a handshake that has not completed within the connect timeout
 * is dropped and retried, and so is an open socket that heard nothing for
 * two heartbeats plus a margin (a half-open connection). Retries wait with
 * capped exponential backoff and full jitter. A close with 44xx (bad key or
 * url, forbidden, no such page) is final for the roots it names (its reason
 * starts with "KEY: "; no such prefix: all of them); the others are
 * subscribed again on the next socket, with the usual waits. 4401 (the
 * session ended: signed out, here or in another tab or by the server)
 * stops every root, whatever key it names (the session is the page's), but
 * only until this browser is signed in again: the live regions say
 * "signed out — sign in again" with a link to the sign-in page.
 * Then the client resumes by itself: every keycast page a signed-in user
 * loads (its <body> carries data-viewer) says so on the BroadcastChannel
 * "keycast", and a tab that comes back into view or focus GETs its page
 * and looks for data-viewer there (the session cookie is HttpOnly: a
 * script cannot read it); signed in as someone else, the page reloads. A
 * close with 1011 (the server or the app failed) is retried at growing,
 * long intervals, and so is a socket that never opened since the page
 * loaded (a browser sees a refused handshake as 1006, like a server that
 * is down); after "give-up" such strikes the client stops. A stop after
 * 1011 or 1006 is not final: the browser coming online or the tab becoming
 * visible tries again.
 *
 * Forms: the root's method="post" forms are posted with fetch (header
 * X-Keycast: 1, so the app answers 204): one post per form at a time, the
 * form aria-busy and its submit buttons disabled in flight, even when a push
 * re-renders or replaces them meanwhile; an error answer or a network failure
 * is shown in a <p class="form-error" role="alert"> inside the form, and
 * after success the "text" field (and any field marked data-rt-clear) is
 * emptied. The page changes through the push, the same path as every other
 * viewer's; if the socket is not live when a post succeeds, the client GETs
 * the page and morphs the root to the fresh copy itself.
 *
 * Fields: a field the server changes takes the server's value, except while
 * the user is editing it (focused and changed): then the typed text stays
 * until the field loses focus, and the server's value replaces it there. A
 * field the server did not change keeps whatever the user typed.
 *
 * Manual wiring: put data-rt-manual on a root (or have no data-rt-key) and
 * call window.initRealtimeClient({ key, url, root }) (or keycast.mjs's,
 * which returns a Promise): it returns the root's client { key, url, root,
 * state, ready, close() }. A second call for a running root with the same
 * key and url returns the same client and warns once (one socket per
 * page); with another key or url it closes that client and subscribes the
 * root anew, the page's one socket replaced by one carrying the new set.
 * client.ready resolves to the client when its first fragment is on the
 * page, and rejects (Error with .code, .reason) when the server refuses
 * the root (44xx) or close() comes first. client.close() stops the root
 * for good.
 *
 * Settings, from the options of initRealtimeClient or else from attributes
 * of the root (the first root that has one), read each time they are used
 * (all in seconds but give-up):
 *   heartbeat (data-rt-heartbeat, 25): pushd's --ping-interval; 0: no check
 *   connectTimeout (data-rt-connect-timeout, 10)
 *   longRetry (data-rt-long-retry, 30): the longest wait after 1011 or a
 *     socket that never opened
 *   giveUp (data-rt-give-up, 10): strikes (1011 closes, or closes before
 *     the first open) before the client stops
 * and signIn (data-rt-signin, "/signin"): where "sign in again" links to.
 *
 * State on each root: data-rt-state="connecting|live|offline"; once that
 * root stopped also data-rt-closed="CODE" (4400, 4403, 4404..., 1011 or
 * 1006). Next to the main root (one per page: a screen reader hears one
 * voice), a live region <div class="rt-status" role="status"> says
 * "reconnecting…" when the page has not been live for a moment, "live
 * updates off" once that root stopped, and "signed out — sign in again" (a
 * link) after 4401; it is empty while live. Events on the
 * root: "keycast:update" after each applied fragment (detail: { key, url }),
 * "keycast:state" on each state change (detail: { state, code } with code
 * once the root stopped).
 * An element with data-rt-scroll="bottom" starts scrolled to its end and
 * stays at the end while the reader is there (chat logs).
 * DOM morphing: idiomorph (npm), served from static/vendor/ by the build.
 */
(function () {
	"use strict";

	/* Loaded twice (the classic script and keycast.mjs): one client. */
	if (window.keycast)
		return;

	var BACKOFF_MIN = 250;		/* ms: first retry window */
	var BACKOFF_MAX = 10000;	/* ms: retry window cap once ever live */
	var STRIKE_MIN = 2000;		/* ms: first wait after a 1011 */
	var STABLE_AFTER = 5000;	/* ms live before the backoff resets */
	var POST_TIMEOUT = 15000;	/* ms before a form post counts as failed */
	var STATUS_DELAY = 600;		/* ms: the first connect is not news */
	var SETTINGS = {
		heartbeat: ["data-rt-heartbeat", 25],
		connectTimeout: ["data-rt-connect-timeout", 10],
		longRetry: ["data-rt-long-retry", 30],
		giveUp: ["data-rt-give-up", 10]
	};

	var script = document.currentScript;
	var vendorURL = script && script.src ?
	    script.src.replace(/keycast\.js(\?.*)?$/, "vendor/idiomorph.min.js") :
	    "/static/vendor/idiomorph.min.js";

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

	function isCheckable(el) {
		return el instanceof HTMLInputElement &&
		    (el.type === "checkbox" || el.type === "radio");
	}

	/* Fields whose value the morph merges (see mergeField). */
	function isField(el) {
		return isTextControl(el) || isCheckable(el);
	}

	/* What the user sees in a field, and what the server last sent
	 * (the value attribute, a textarea's text, the checked attribute). */
	function fieldValue(el) {
		return isTextControl(el) ? el.value : el.checked;
	}

	function fieldDefault(el) {
		return isTextControl(el) ? el.defaultValue : el.defaultChecked;
	}

	function setField(el, v) {
		if (isTextControl(el))
			el.value = v;
		else
			el.checked = v;
	}

	function setFieldDefault(el, v) {
		if (isTextControl(el))
			el.defaultValue = v;
		else
			el.defaultChecked = v;
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

	/* ---- frames and diffs (docs/protocol.md) -------------------------- */

	var HEX8 = /^[0-9a-f]{8}$/;
	/* The first frame of a v2 socket is always a full one (F). */
	var V2_FIRST = /^F [0-9a-f]{8} [^ \n]+ [^ \n]+\n/;
	var utf8 = new TextEncoder();

	/* A fragment's version: FNV-1a 32-bit over its UTF-8 bytes, as 8
	 * lowercase hex digits. */
	function fnv1a(s) {
		var b = utf8.encode(s), h = 0x811c9dc5, i;

		for (i = 0; i < b.length; i++)
			h = Math.imul(h ^ b[i], 16777619);
		return ("0000000" + (h >>> 0).toString(16)).slice(-8);
	}

	/* A fragment's units: each ends just after a '>' or a '\n'. */
	function units(s) {
		var u = s.split(/(?<=[>\n])/);

		if (u.length && u[u.length - 1] === "")
			u.pop();
		return u;
	}

	/* Applies a diff's ops (a JSON array: n > 0 copies n units of text,
	 * -n skips n, a string is inserted) to text. Returns the result, or
	 * null if the ops are malformed: not such an array, or a cursor that
	 * runs past the end or does not end exactly at it. */
	function applyOps(text, json) {
		var base = units(text), out = [], at = 0, ops, op, n, i;

		try {
			ops = JSON.parse(json);
		} catch (e) {
			return null;
		}
		if (!Array.isArray(ops))
			return null;
		for (i = 0; i < ops.length; i++) {
			op = ops[i];
			if (typeof op === "string") {
				out.push(op);
				continue;
			}
			if (typeof op !== "number" || !Number.isInteger(op) ||
			    op === 0)
				return null;
			n = Math.abs(op);
			if (n > base.length - at)
				return null;
			if (op > 0)
				out.push(base.slice(at, at + n).join(""));
			at += n;
		}
		return at === base.length ? out.join("") : null;
	}

	/* ---- one realtime root ---------------------------------------------- */

	/* A root element showing the fragments of (key, url): the text and
	 * version it holds (what a diff applies to), its state attributes,
	 * status badge, forms and fields. Frames come through the page's one
	 * Conn. ready: settles once (see initRealtimeClient). */
	function Root(key, url, root, opts) {
		var self = this;

		this.key = key;
		this.url = url;
		this.root = root;
		this.opts = opts;
		this.state = null;
		this.closedCode = 0;
		this.final = false;		/* closedCode is a 44xx */
		this.ended = false;		/* close() was called */
		this.text = null;		/* the fragment as the server sent it */
		this.version = null;		/* its FNV-1a */
		this.awaitingFull = false;	/* resync asked: diffs wait for F */
		this.morph = undefined;		/* undefined: still loading */
		this.pending = null;		/* latest fragment while loading */
		this.lastHTML = null;
		this.frames = 0;		/* fragments received */
		this.applying = false;
		this.scrollers = new Set();	/* elements the user scrolled */
		this.inflight = new Set();	/* formKey of each form posting */
		this.disabledByUs = new WeakSet();	/* its submit buttons */
		this.serverWins = new WeakSet();	/* fields to reset on blur */
		/* one live region per page: the main root's */
		this.status = root === mainRoot() ? statusElement(root) : null;
		this.statusTimer = 0;
		this.ready = new Promise(function (resolve, reject) {
			self.resolveReady = resolve;
			self.rejectReady = reject;
		});
		/* an auto-started root has nobody awaiting it */
		this.ready.catch(function () {});

		this.onScroll = function (e) {
			var t = e.target;
			if (t instanceof Element && t !== self.root)
				self.scrollers.add(t);
		};
		this.onSubmit = function (e) { self.submit(e); };
		this.onFocusOut = function (e) { self.leftField(e.target); };
		root.addEventListener("scroll", this.onScroll, true);
		root.addEventListener("submit", this.onSubmit);
		root.addEventListener("focusout", this.onFocusOut);
		root.removeAttribute("data-rt-closed");

		this.stickToBottom();
		loadMorph().then(function (m) {
			self.morph = m;
			if (self.pending !== null) {
				var html = self.pending;
				self.pending = null;
				self.apply(html);
			}
		});
	}

	/* The page's socket, for tests and tools that feed it frames. */
	Object.defineProperty(Root.prototype, "ws", {
		get: function () { return conn ? conn.ws : null; }
	});

	/* Subscribed on the next socket: started, not closed, not stopped. */
	Root.prototype.active = function () {
		return !this.ended && !this.closedCode;
	};

	/* The live region next to the root that says how the connection is
	 * (a screen reader hears it; CSS shows it as a badge). A client started
	 * again on the same root takes over the one already there. */
	function statusElement(root) {
		var el = root.nextElementSibling;

		if (el && el.hasAttribute("data-rt-status"))
			return el;
		el = document.createElement("div");
		el.className = "rt-status";
		el.setAttribute("data-rt-status", "");
		el.setAttribute("role", "status");
		el.setAttribute("aria-live", "polite");
		root.insertAdjacentElement("afterend", el);
		return el;
	}

	/* A setting from the options, else the root's attribute, else NaN. */
	Root.prototype.setting = function (name) {
		var s = SETTINGS[name], v = this.opts[name];

		if (typeof v !== "number") {
			v = this.root.getAttribute(s[0]);
			v = v === null || v.trim() === "" ? NaN : Number(v);
		}
		return isFinite(v) && v >= 0 ? v : NaN;
	};

	Root.prototype.setState = function (state) {
		var detail;

		if (this.state !== state) {
			this.state = state;
			this.root.setAttribute("data-rt-state", state);
			detail = { state: state };
			if (this.closedCode)
				detail.code = this.closedCode;
			this.root.dispatchEvent(new CustomEvent("keycast:state",
			    { detail: detail }));
		}
		this.showStatus();
	};

	/* The live region's text: empty while live, "live updates off" once
	 * stopped, "reconnecting…" when not live for STATUS_DELAY (counted
	 * from leaving "live", not from the latest of quick retries). */
	Root.prototype.showStatus = function () {
		var self = this, el = this.status, text;

		if (!el)
			return;
		if (this.closedCode === 4401 && !this.ended) {
			clearTimeout(this.statusTimer);
			this.statusTimer = 0;
			this.showSignedOut();
			return;
		}
		if (this.closedCode || this.ended)
			text = "live updates off";
		else if (this.state === "live")
			text = "";
		else if (el.textContent === "") {
			if (!this.statusTimer)
				this.statusTimer = setTimeout(function () {
					self.statusTimer = 0;
					el.textContent = "reconnecting…";
				}, STATUS_DELAY);
			return;
		} else
			text = "reconnecting…";
		clearTimeout(this.statusTimer);
		this.statusTimer = 0;
		if (el.textContent !== text)
			el.textContent = text;
	};

	/* "signed out — sign in again", the latter a link to the sign-in page
	 * (the status is a live region: a screen reader hears it too). */
	Root.prototype.showSignedOut = function () {
		var el = this.status, a;

		if (el.querySelector("a[data-rt-signin]"))
			return;
		a = document.createElement("a");
		a.setAttribute("data-rt-signin", "");
		a.href = this.root.getAttribute("data-rt-signin") ||
		    this.opts.signIn || "/signin";
		a.textContent = "sign in again";
		el.textContent = "signed out — ";
		el.appendChild(a);
	};

	/* Stops this root: "final" for 44xx (the server refused its pair),
	 * which rejects ready; else the page gave up (1011, 1006). */
	Root.prototype.fail = function (code, final, reason) {
		var err;

		this.closedCode = code;
		this.final = final;
		this.root.setAttribute("data-rt-closed", String(code));
		this.setState("offline");
		if (final) {
			err = new Error("keycast: the server refused " + this.key +
			    " with " + code + (reason ? " (" + reason + ")" : ""));
			err.code = code;
			err.reason = reason || "";
			this.rejectReady(err);
		}
	};

	/* Subscribed again after a stop that was not final (or after 4401). */
	Root.prototype.revive = function () {
		this.closedCode = 0;
		this.final = false;
		this.root.removeAttribute("data-rt-closed");
	};

	/* An F frame: take it. */
	Root.prototype.full = function (text, version) {
		this.text = text;
		this.version = version;
		this.awaitingFull = false;
		this.frames++;
		this.receive(text);
	};

	/* A D frame: apply it to the text held if it is the diff's base and
	 * the result has the diff's version; else nothing changes and the
	 * page asks for full fragments (once, until they come). */
	Root.prototype.diff = function (base, version, ops) {
		var text = null, why;

		if (this.awaitingFull)
			return;		/* pushd sends F after the resync */
		if (base !== this.version)
			why = "base " + base + ", held " + this.version;
		else if ((text = applyOps(this.text, ops)) === null)
			why = "malformed ops";
		else if (fnv1a(text) !== version)
			why = "result is not version " + version;
		if (why) {
			console.warn("keycast: a diff for " + this.key + " " +
			    this.url + " does not apply (" + why + "); asking " +
			    "for full fragments");
			conn.resync();
			return;
		}
		this.text = text;
		this.version = version;
		this.frames++;
		this.receive(text);
	};

	/* The page at this root's url as a Document, fresh and with the
	 * browser's cookies; null when it did not answer 200. */
	Root.prototype.fetchPage = function () {
		return fetch(this.url, {
			headers: { Accept: "text/html" },
			credentials: "same-origin",
			cache: "no-store"
		}).then(function (res) {
			return res.ok ? res.text() : null;
		}).then(function (text) {
			return text === null ? null :
			    new DOMParser().parseFromString(text, "text/html");
		});
	};

	/* This root's element in a fetched page (the one with its key). */
	Root.prototype.findIn = function (doc) {
		return doc.querySelector("[data-rt-root][data-rt-key=\"" +
		    this.key.replace(/["\\]/g, "\\$&") + "\"]");
	};

	/* Signed in again after 4401 as "viewer" (or the viewer of "doc", the
	 * page fetched signed in): take it, and the content of "doc" if any
	 * (else the push brings it), and subscribe again. Someone else than
	 * the page was made for: what is personal outside the root (the
	 * header, the <style> for "your" messages) is theirs, so the page
	 * reloads. */
	Root.prototype.resume = function (doc, viewer) {
		var root, was = document.body.getAttribute("data-viewer");

		if (this.closedCode !== 4401 || this.ended)
			return;
		if (doc)
			viewer = doc.body.getAttribute("data-viewer");
		if (typeof viewer === "string" && viewer !== "") {
			if (was !== null && was !== viewer) {
				location.reload();
				return;
			}
			document.body.setAttribute("data-viewer", viewer);
		}
		if (doc && (root = this.findIn(doc)))
			this.receive(root.innerHTML);
		this.revive();
		if (this.status)
			this.status.textContent = "";
		conn.strikes = 0;
		conn.attempt = 0;
		conn.sync();
	};

	/* Stops this root for good: unsubscribed (the socket is opened again
	 * without it, or closed if it was the last), no listeners; the status
	 * says so, and ready rejects if it had not resolved. */
	Root.prototype.close = function () {
		var err;

		if (this.ended)
			return;
		this.ended = true;
		this.root.removeEventListener("scroll", this.onScroll, true);
		this.root.removeEventListener("submit", this.onSubmit);
		this.root.removeEventListener("focusout", this.onFocusOut);
		this.setState("offline");
		err = new Error("keycast: closed before the first fragment");
		err.code = 0;
		err.reason = "closed";
		this.rejectReady(err);
		conn.remove(this);
	};

	Root.prototype.receive = function (html) {
		if (this.morph === undefined) {
			this.pending = html;	/* only the latest one matters */
			return;
		}
		this.apply(html);
	};

	/* After a post while the socket is not live: nothing will be pushed,
	 * so fetch the page and take the root's content from it. A frame that
	 * arrives meanwhile is at least as new and wins. */
	Root.prototype.refresh = function () {
		var self = this, seen = this.frames;

		this.fetchPage().then(function (doc) {
			var root;

			if (doc === null || self.ended || self.frames !== seen)
				return;
			root = self.findIn(doc) || doc.querySelector("[data-rt-root]");
			if (root)
				self.receive(root.innerHTML);
		}).catch(function (e) {
			console.warn("keycast: could not fetch " + self.url +
			    " after the post: " + e.message);
		});
	};

	/* ---- the page's one connection -------------------------------------- */

	/* One WebSocket (protocol v2) carrying every started root's (key, url)
	 * pair, with the retry rules at the top of this file. */
	function Conn() {
		var self = this;

		this.roots = [];		/* every started root, in order */
		this.subscribed = [];		/* the roots of this socket */
		this.state = null;
		this.ws = null;
		this.proto = 0;			/* this socket's frames: 1 or 2 */
		this.resyncing = false;		/* "r" sent, full frames due */
		this.opened = false;		/* this socket */
		this.everOpened = false;	/* any socket since the page loaded */
		this.attempt = 0;
		this.strikes = 0;		/* 1011s, or closes before any open */
		this.gaveUp = 0;		/* the code it stopped after */
		this.stopped = false;		/* in the bfcache */
		this.syncing = false;		/* a sync() queued */
		this.checking = false;		/* a session check in flight */
		this.retryTimer = 0;
		this.stableTimer = 0;
		this.connectTimer = 0;
		this.silenceTimer = 0;

		this.onOnline = function () { self.retryNow(); };
		this.onVisible = function () {
			if (document.visibilityState === "visible")
				self.retryNow();
		};
		this.onFocus = function () { self.checkSession(); };
		this.onSignedIn = function (e) {
			if (e.data && e.data.type === "signed-in")
				self.roots.forEach(function (r) {
					r.resume(null, e.data.viewer);
				});
		};
		this.onPageHide = function (e) {
			if (e.persisted)
				self.suspend();
		};
		this.onPageShow = function (e) {
			if (e.persisted)
				self.retryNow();
		};
		window.addEventListener("online", this.onOnline);
		window.addEventListener("pagehide", this.onPageHide);
		window.addEventListener("pageshow", this.onPageShow);
		document.addEventListener("visibilitychange", this.onVisible);
		window.addEventListener("focus", this.onFocus);
		if (signInChannel())
			signInChannel().addEventListener("message", this.onSignedIn);
	}

	Conn.prototype.active = function () {
		return this.roots.filter(function (r) { return r.active(); });
	};

	/* A setting from the first active root that has it, else its default
	 * (see the top of this file). */
	Conn.prototype.setting = function (name) {
		var roots = this.active(), i, v;

		for (i = 0; i < roots.length; i++) {
			v = roots[i].setting(name);
			if (!isNaN(v))
				return v;
		}
		return SETTINGS[name][1];
	};

	/* The running root on element el, if any. */
	Conn.prototype.rootOf = function (el) {
		var i;

		for (i = 0; i < this.roots.length; i++)
			if (this.roots[i].root === el && !this.roots[i].ended)
				return this.roots[i];
		return null;
	};

	Conn.prototype.add = function (r) {
		this.roots.push(r);
		this.sync();
	};

	Conn.prototype.remove = function (r) {
		this.roots = this.roots.filter(function (x) { return x !== r; });
		this.sync();
	};

	/* The set of roots changed (started, closed, signed in again): once
	 * the current task is done, subscribe the new set on a new socket, or
	 * close the socket if no root is left. Roots started together share
	 * one handshake. */
	Conn.prototype.sync = function () {
		var self = this;

		if (this.syncing)
			return;
		this.syncing = true;
		Promise.resolve().then(function () {
			var want = self.active(), same;

			self.syncing = false;
			same = want.length === self.subscribed.length &&
			    want.every(function (r, i) {
				return r === self.subscribed[i];
			    });
			if (self.ws && same)
				return;
			self.drop();
			if (want.length && !self.gaveUp && !self.stopped)
				self.connect();
		});
	};

	/* ws(s)://HOST/__realtime?v=2&key=K1&url=U1&key=K2&url=U2..., each
	 * (key, url) pair once. */
	function socketURL(roots) {
		var seen = new Set(), q = "v=2";

		roots.forEach(function (r) {
			var pair = r.key + " " + r.url;
			if (seen.has(pair))
				return;
			seen.add(pair);
			q += "&key=" + encodeURIComponent(r.key) +
			    "&url=" + encodeURIComponent(r.url);
		});
		return (location.protocol === "https:" ? "wss://" : "ws://") +
		    location.host + "/__realtime?" + q;
	}

	/* The state of every root this socket serves. */
	Conn.prototype.setState = function (state) {
		this.state = state;
		this.active().forEach(function (r) { r.setState(state); });
	};

	Conn.prototype.connect = function () {
		var self = this, roots = this.active(), ws;

		clearTimeout(this.retryTimer);
		this.retryTimer = 0;
		if (this.stopped || this.gaveUp || this.ws || !roots.length)
			return;
		this.subscribed = roots;
		this.proto = 0;
		this.resyncing = false;
		roots.forEach(function (r) { r.awaitingFull = false; });
		this.setState("connecting");
		try {
			ws = new WebSocket(socketURL(roots));
		} catch (e) {
			console.error("keycast: " + e.message);
			roots.forEach(function (r) { r.fail(4400, true, e.message); });
			return;
		}
		this.ws = ws;
		this.opened = false;
		this.connectTimer = setTimeout(function () {
			if (self.ws !== ws)
				return;
			console.warn("keycast: no answer to the WebSocket " +
			    "handshake within " + self.setting("connectTimeout") +
			    " s; retrying");
			self.drop();
			self.lost(1006, false);
		}, this.setting("connectTimeout") * 1000);
		ws.onopen = function () {
			if (self.ws !== ws)
				return;
			clearTimeout(self.connectTimer);
			self.opened = true;
			self.everOpened = true;
			self.setState("live");
			self.stableTimer = setTimeout(function () {
				self.attempt = 0;
			}, STABLE_AFTER);
			self.heard();
		};
		ws.onmessage = function (e) {
			if (self.ws !== ws || typeof e.data !== "string")
				return;
			self.heard();
			if (e.data === "")
				return;		/* the heartbeat */
			self.strikes = 0;
			self.frame(e.data);
		};
		ws.onclose = function (e) {
			if (self.ws !== ws)
				return;
			var opened = self.opened, hit;
			self.drop();
			if (e.code >= 4400 && e.code <= 4499) {
				/* "KEY: why" names the pair refused; but the
				 * session (4401) is the page's, not a root's */
				hit = e.code === 4401 ? [] :
				    self.subscribed.filter(function (r) {
					return e.reason.indexOf(r.key + ": ") === 0;
				    });
				if (!hit.length)
					hit = self.subscribed;
				console.warn("keycast: the server closed the live " +
				    "connection with " + e.code + (e.reason ? " (" +
				    e.reason + ")" : "") + "; not reconnecting " +
				    hit.map(function (r) { return r.key; }).join(", "));
				hit.forEach(function (r) {
					r.fail(e.code, true, e.reason);
				});
			}
			if (self.active().length)
				self.lost(e.code, opened);
		};
		ws.onerror = function () { /* onclose follows */ };
	};

	/* A data frame. A v2 socket's frames name their root (F: full, D:
	 * diff); a pushd from before v2 ignores v and every pair but the
	 * first, and sends that one's full fragments as they are. */
	Conn.prototype.frame = function (data) {
		var nl = data.indexOf("\n"), head, body, hit;

		if (!this.proto)
			this.proto = V2_FIRST.test(data) ? 2 : 1;
		if (this.proto === 1) {
			if (!this.subscribed[0].ended)
				this.subscribed[0].full(data, null);
			return;
		}
		head = (nl < 0 ? data : data.slice(0, nl)).split(" ");
		body = data.slice(nl + 1);
		if (nl >= 0 && head[0] === "F" && head.length === 4 &&
		    HEX8.test(head[1]))
			hit = this.route(head[2], head[3], function (r) {
				r.full(body, head[1]);
			});
		else if (nl >= 0 && head[0] === "D" && head.length === 5 &&
		    HEX8.test(head[1]) && HEX8.test(head[2]))
			hit = this.route(head[3], head[4], function (r) {
				r.diff(head[1], head[2], body);
			});
		if (!hit)
			console.warn("keycast: ignored a frame: " +
			    data.slice(0, Math.min(nl < 0 ? 80 : nl, 80)));
		if (this.resyncing && !this.subscribed.some(function (r) {
			return r.awaitingFull;
		}))
			this.resyncing = false;
	};

	/* Calls fn for each root of this socket showing (key, url); returns
	 * how many there were. */
	Conn.prototype.route = function (key, url, fn) {
		var n = 0;

		this.subscribed.forEach(function (r) {
			if (r.key === key && r.url === url && !r.ended) {
				fn(r);
				n++;
			}
		});
		return n;
	};

	/* A diff did not apply: one "r" asks pushd for every root's full
	 * fragment; diffs already on the way are dropped until it comes. */
	Conn.prototype.resync = function () {
		if (this.resyncing || !this.ws || this.proto !== 2 ||
		    this.ws.readyState !== WebSocket.OPEN)
			return;
		this.resyncing = true;
		this.subscribed.forEach(function (r) { r.awaitingFull = true; });
		this.ws.send("r");
	};

	/* Anything from the server proves the connection alive: start the
	 * wait for the next sign of life again. */
	Conn.prototype.heard = function () {
		var self = this, ws = this.ws, beat = this.setting("heartbeat");
		var wait = (2 * beat + Math.min(beat, 5)) * 1000;

		clearTimeout(this.silenceTimer);
		this.silenceTimer = 0;
		if (!(beat > 0))
			return;
		this.silenceTimer = setTimeout(function () {
			if (self.ws !== ws)
				return;
			console.warn("keycast: nothing from the server for " +
			    wait / 1000 + " s; reconnecting");
			self.drop();
			self.lost(1006, true);
		}, wait);
	};

	/* Forgets the socket (closing it if it is still there) and its timers. */
	Conn.prototype.drop = function () {
		var ws = this.ws;

		this.ws = null;
		this.opened = false;
		clearTimeout(this.connectTimer);
		clearTimeout(this.silenceTimer);
		clearTimeout(this.stableTimer);
		if (!ws)
			return;
		ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
		if (ws.readyState === WebSocket.CONNECTING ||
		    ws.readyState === WebSocket.OPEN)
			ws.close(1000);
	};

	/* The socket is gone with close code "code"; "opened" if it had
	 * opened. Decides how long to wait, or whether to stop. */
	Conn.prototype.lost = function (code, opened) {
		var longest = this.setting("longRetry") * 1000;

		if (code === 1011 || (!opened && !this.everOpened)) {
			if (++this.strikes >= this.setting("giveUp")) {
				console.warn("keycast: " + (code === 1011 ?
				    "the server failed (1011)" : "could not open " +
				    "the live connection") + " " + this.strikes +
				    " times; live updates are off");
				this.fail(code);
				return;
			}
		}
		if (code === 1011)
			this.scheduleRetry(Math.min(longest,
			    STRIKE_MIN * Math.pow(2, this.strikes - 1)), true);
		else
			this.scheduleRetry(this.everOpened ? BACKOFF_MAX :
			    Math.max(BACKOFF_MAX, longest), false);
	};

	/* Gives up after 1011 or 1006 strikes (not final: see retryNow). */
	Conn.prototype.fail = function (code) {
		clearTimeout(this.retryTimer);
		this.gaveUp = code;
		this.active().forEach(function (r) { r.fail(code, false); });
	};

	/* Waits before the next attempt. Backoff (fixed false): uniformly in
	 * [0, min(cap, base * 2^attempt)) (full jitter); fixed: in [ms/2, ms). */
	Conn.prototype.scheduleRetry = function (ms, fixed) {
		var self = this, delay;

		if (this.stopped || this.gaveUp || !this.active().length)
			return;
		this.setState("offline");
		if (fixed)
			delay = ms * (0.5 + Math.random() / 2);
		else
			delay = Math.random() * Math.min(ms,
			    BACKOFF_MIN * Math.pow(2, this.attempt));
		if (this.attempt < 16)
			this.attempt++;
		clearTimeout(this.retryTimer);
		this.retryTimer = setTimeout(function () { self.connect(); }, delay);
	};

	/* online, tab visible again, back from the bfcache: skip the wait,
	 * and start over after giving up on 1011 or 1006 (not on 44xx; a
	 * root signed out checks the session). */
	Conn.prototype.retryNow = function () {
		var self = this;

		this.stopped = false;
		this.checkSession();
		this.roots.forEach(function (r) {
			if (r.closedCode && !r.final) {
				self.strikes = 0;
				self.attempt = 0;
				r.revive();
			}
		});
		this.gaveUp = 0;
		if (!this.ws)
			this.connect();
	};

	/* After 4401: is this browser signed in again? The page says so with
	 * data-viewer on its <body>; one check at a time, for every root. */
	Conn.prototype.checkSession = function () {
		var self = this, out = this.roots.filter(function (r) {
			return r.closedCode === 4401 && !r.ended;
		});

		if (!out.length || this.checking)
			return;
		this.checking = true;
		out[0].fetchPage().then(function (doc) {
			self.checking = false;
			if (doc && doc.body && doc.body.hasAttribute("data-viewer"))
				out.forEach(function (r) { r.resume(doc); });
		}).catch(function (e) {
			self.checking = false;
			console.warn("keycast: could not check the session: " +
			    e.message);
		});
	};

	Conn.prototype.suspend = function () {
		this.stopped = true;
		clearTimeout(this.retryTimer);
		this.drop();
		this.setState("offline");
	};

	/* ---- applying a frame -------------------------------------------- */

	Root.prototype.apply = function (html) {
		if (html === this.lastHTML)
			return;
		this.lastHTML = html;
		var saved = this.save();
		this.applying = true;
		try {
			if (this.morph)
				this.morphTo(html);
			else
				this.swapTo(html, saved);
		} finally {
			this.restore(saved);
			this.inflight.forEach(function (key) {
				this.markBusy(key, true);
			}, this);
			this.applying = false;
		}
		this.root.dispatchEvent(new CustomEvent("keycast:update",
		    { detail: { key: this.key, url: this.url } }));
		this.resolveReady(this);
	};

	Root.prototype.morphTo = function (html) {
		var self = this, merged = new Set();

		this.morph.morph(this.root, html, {
			morphStyle: "innerHTML",
			ignoreActiveValue: true,
			restoreFocus: true,
			callbacks: {
				beforeNodeMorphed: function (old, next) {
					if (self.mergeField(old, next))
						merged.add(old);
				},
				beforeAttributeUpdated: function (attr, el) {
					/* mergeField decided these */
					if ((attr === "value" || attr === "checked") &&
					    merged.has(el))
						return false;
					if (attr === "selected" && isDirty(el))
						return false;
					/* a post in flight keeps its form busy */
					if (attr === "disabled" && self.disabledByUs.has(el))
						return false;
					if (attr === "aria-busy" &&
					    el instanceof HTMLFormElement &&
					    self.inflight.has(formKey(el)))
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

	/* The morph is about to make field "el" like the server's "next": a
	 * three-way merge of the user's value, the value the server sent last
	 * (the field's default) and the server's new one. Returns 1 if it did
	 * the field's value itself (the morph must leave it alone). */
	Root.prototype.mergeField = function (el, next) {
		var mine, base, server;

		if (!isField(el) || el.tagName !== next.tagName ||
		    el.type !== next.type)
			return 0;
		mine = fieldValue(el);
		base = fieldDefault(el);
		server = fieldDefault(next);
		if (server === base)
			return 1;	/* not the server's change: mine stands */
		setFieldDefault(el, server);
		if (el === document.activeElement && mine !== base) {
			/* being edited: the server's value waits for the blur */
			if (fieldValue(el) !== mine)
				setField(el, mine);
			this.serverWins.add(el);
		} else {
			setField(el, server);
			this.serverWins.delete(el);
		}
		return 1;
	};

	/* The same merge for a field the server's content replaced: "el" holds
	 * the server's value, "was" what the old field held. */
	Root.prototype.mergeInto = function (el, was) {
		if (!isField(el) || el.tagName !== was.tag || el.type !== was.type)
			return;
		if (fieldDefault(el) === was.base) {
			setField(el, was.mine);
		} else if (was.editing) {
			setField(el, was.mine);
			this.serverWins.add(el);
		}
	};

	/* A field the user leaves takes the value the server sent while it
	 * was being edited (a window losing focus is not leaving it). */
	Root.prototype.leftField = function (el) {
		if (this.applying || el === document.activeElement ||
		    !this.serverWins.has(el))
			return;
		this.serverWins.delete(el);
		setField(el, fieldDefault(el));
	};

	/* Without idiomorph: replace the content, then merge the fields. */
	Root.prototype.swapTo = function (html, saved) {
		var locals = this.root.querySelectorAll("[data-rt-local]");
		var i, el, sel, f;

		this.root.innerHTML = html;
		for (i = 0; i < saved.fields.length; i++) {
			el = this.root.querySelector(saved.fields[i].sel);
			if (el)
				this.mergeInto(el, saved.fields[i]);
		}
		for (i = 0; i < locals.length; i++) {
			f = locals[i].getAttribute("data-rt-form");
			sel = f && this.root.querySelector("form[action=\"" +
			    f.replace(/["\\]/g, "\\$&") + "\"]");
			if (sel)
				sel.appendChild(locals[i]);
		}
	};

	function fieldState(el) {
		var mine = fieldValue(el), base = fieldDefault(el);

		return { sel: controlSelector(el), tag: el.tagName, type: el.type,
		    mine: mine, base: base,
		    editing: el === document.activeElement && mine !== base };
	}

	Root.prototype.save = function () {
		var root = this.root, saved = { scroll: [], fields: null };
		var active = document.activeElement, list, i, el;

		saved.winX = window.scrollX;
		saved.winY = window.scrollY;
		if (active && active !== document.body && root.contains(active)) {
			saved.active = active;
			saved.activeSel = controlSelector(active);
			saved.activeField = isField(active) ? fieldState(active) : null;
			saved.selection = selectionOf(active);
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
			saved.fields = [];
			list = root.querySelectorAll("input, textarea");
			for (i = 0; i < list.length; i++) {
				el = list[i];
				if (isField(el) && controlSelector(el))
					saved.fields.push(fieldState(el));
			}
		}
		return saved;
	};

	Root.prototype.restore = function (saved) {
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
				/* the morph replaced it (swapTo merged already) */
				if (el !== saved.active && saved.activeField &&
				    !saved.fields)
					this.mergeInto(el, saved.activeField);
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
	Root.prototype.stickToBottom = function () {
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

	/* Names a form across re-renders that may replace the element: its
	 * action, resolved (not form.action: a field named "action" hides it). */
	function formKey(form) {
		try {
			return new URL(form.getAttribute("action") || "",
			    location.href).href;
		} catch (e) {
			return "";
		}
	}

	Root.prototype.submit = function (e) {
		var form = e.target, submitter = e.submitter || null;
		var method, action, target;

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
		if (this.inflight.has(formKey(form)))
			return;		/* one post per form at a time */
		this.post(form, submitter, action);
	};

	/* Marks the root's forms named "key" busy (aria-busy, submit buttons
	 * disabled) or not; apply() marks them again after every frame, since
	 * the server's content knows nothing of posts in flight. */
	Root.prototype.markBusy = function (key, busy) {
		var forms = this.root.querySelectorAll("form"), i, self = this;

		for (i = 0; i < forms.length; i++) {
			if (formKey(forms[i]) !== key)
				continue;
			if (busy)
				forms[i].setAttribute("aria-busy", "true");
			else
				forms[i].removeAttribute("aria-busy");
			submitButtons(forms[i]).forEach(function (b) {
				if (busy && !b.disabled) {
					b.disabled = true;
					self.disabledByUs.add(b);
				} else if (!busy && self.disabledByUs.has(b)) {
					self.disabledByUs.delete(b);
					b.disabled = false;
				}
			});
		}
	};

	/* The element now standing for "el" of the form named "key": itself,
	 * or the one a re-render put in its place. */
	Root.prototype.current = function (el, key) {
		var forms, i, sel;

		if (el.isConnected)
			return el;
		sel = el instanceof HTMLFormElement ? null : controlSelector(el);
		if (!sel && !(el instanceof HTMLFormElement))
			return null;
		forms = this.root.querySelectorAll("form");
		for (i = 0; i < forms.length; i++) {
			if (formKey(forms[i]) !== key)
				continue;
			if (!sel)
				return forms[i];
			return forms[i].querySelector(sel) ||
			    this.root.querySelector(sel);
		}
		return null;
	};

	Root.prototype.post = function (form, submitter, action) {
		var self = this, key = formKey(form);
		var hadFocus = submitter && document.activeElement === submitter;
		var body = formBody(form, submitter);
		var sent = clearable(form).map(function (el) {
			return { el: el, value: el.value };
		});
		var ctl = window.AbortController ? new AbortController() : null;
		var timer = ctl ? setTimeout(function () { ctl.abort(); },
		    POST_TIMEOUT) : 0;

		this.inflight.add(key);
		this.markBusy(key, true);
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
					var el = self.current(f.el, key);
					if (el && el.value === f.value)
						el.value = "";
				});
				/* no push will show it: fetch the page */
				if (self.state !== "live")
					self.refresh();
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
			var f = self.current(form, key);
			var b = submitter && self.current(submitter, key);

			clearTimeout(timer);
			self.inflight.delete(key);
			self.markBusy(key, false);
			if (f)
				showError(f, message);
			/* disabling the clicked button blurred it: give focus back */
			if (hadFocus && b && (!document.activeElement ||
			    document.activeElement === document.body))
				b.focus({ preventScroll: true });
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

	var conn = null;	/* the page's one connection, made on first use */
	var warnedTwice = false;

	/* The page's main root: the first [data-rt-root] without a data-rt-url
	 * (its url is the page's own), else the first one. */
	function mainRoot() {
		var all = document.querySelectorAll("[data-rt-root]"), i;

		for (i = 0; i < all.length; i++)
			if (!all[i].hasAttribute("data-rt-url"))
				return all[i];
		return all[0] || null;
	}

	function resolveRoot(root) {
		if (typeof root === "string")
			return document.querySelector(root);
		if (root instanceof Element)
			return root;
		return mainRoot();
	}

	/* Starts the realtime root opts.root (an element or a selector; else
	 * the main root) on (opts.key, opts.url) and returns its Root. key:
	 * else the root's data-rt-key, else location.pathname. url: else the
	 * root's data-rt-url, else the page's path+query for the main root
	 * (or a root with its key), else the key. Every root of the page
	 * shares one socket. Called again for a root already running: the
	 * same (key, url) returns the same Root (and warns once); another
	 * key or url closes that Root and subscribes the root anew, on a
	 * socket that replaces the page's one. */
	function start(opts) {
		var root, key, url, main, r;

		opts = opts || {};
		root = resolveRoot(opts.root);
		if (!root)
			throw new Error("keycast: no realtime root (an element " +
			    "with data-rt-root) on this page");
		main = mainRoot();
		key = opts.key || root.getAttribute("data-rt-key") ||
		    location.pathname;
		url = opts.url || root.getAttribute("data-rt-url") ||
		    (root === main || key === main.getAttribute("data-rt-key") ?
		    location.pathname + location.search : key);
		if (!conn)
			conn = new Conn();
		r = conn.rootOf(root);
		if (r && r.key === key && r.url === url) {
			if (!warnedTwice) {
				warnedTwice = true;
				console.warn("keycast: initRealtimeClient was called " +
				    "again for " + key + "; returning the client " +
				    "already running (one socket per page)");
			}
			return r;
		}
		if (r) {
			console.warn("keycast: initRealtimeClient: the root showing " +
			    r.key + " " + r.url + " now shows " + key + " " + url +
			    " (one socket per page)");
			r.close();
		}
		r = new Root(key, url, root, opts);
		conn.add(r);
		return r;
	}

	/* The page's BroadcastChannel to its other tabs, or null where there
	 * is none (the focus check still resumes those). */
	var channel;
	function signInChannel() {
		if (channel === undefined)
			channel = window.BroadcastChannel ?
			    new BroadcastChannel("keycast") : null;
		return channel;
	}

	/* A page rendered for a signed-in viewer tells the other tabs, so one
	 * that was signed out resumes. */
	function announceViewer() {
		var ch = signInChannel();

		if (ch && document.body && document.body.hasAttribute("data-viewer"))
			ch.postMessage({ type: "signed-in",
			    viewer: document.body.getAttribute("data-viewer") });
	}

	/* Every root with a data-rt-key and without data-rt-manual, the main
	 * root first: its pair leads the socket's url, and a scale-out site
	 * that routes by the first key (nginx's hash $arg_key) keeps a page
	 * with the other clients of its own key. */
	function autoStart() {
		var main = mainRoot(), els;

		announceViewer();
		els = Array.prototype.slice.call(
		    document.querySelectorAll("[data-rt-root][data-rt-key]"));
		if (main && els.indexOf(main) > 0)
			els = [main].concat(els.filter(function (el) {
				return el !== main;
			}));
		els.forEach(function (el) {
			if (!el.hasAttribute("data-rt-manual") &&
			    !(conn && conn.rootOf(el)))
				start({ root: el });
		});
	}

	/* keycast.mjs imports this file and exports start's Promise; the
	 * tests check the diff reader against tests/lib/diff-ref.mjs. */
	window.keycast = {
		start: start,
		fnv1a: fnv1a,
		applyOps: applyOps
	};
	window.initRealtimeClient = start;

	if (document.readyState === "loading")
		document.addEventListener("DOMContentLoaded", autoStart);
	else
		autoStart();
})();
