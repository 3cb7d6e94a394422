/*
 * keycast.mjs: keycast.js as an ES module, for pages that wire their
 * realtime roots in code:
 *
 *   import { initRealtimeClient } from "/static/keycast.mjs";
 *   initRealtimeClient({ key: "/poll/7" }).then(
 *       () => { ... the first fragment is on the page ... },
 *       (e) => { ... e.code: 4401, 4403, 4404...; e.reason ... });
 *
 * One implementation: this module imports keycast.js for its side effect
 * (the browser runs it once per module graph) and exports its entry point.
 * A page that also loads keycast.js as a classic script still has one
 * client: the second copy finds window.keycast and does nothing. The
 * classic script stays loadable without a module (no build step), which is
 * why it is the body and this file the wrapper.
 */
import "./keycast.js";

/*
 * Starts opts.root (an element or a CSS selector; default: the page's main
 * root, the first [data-rt-root] without data-rt-url) on opts.key (default:
 * its data-rt-key, else location.pathname) and opts.url (default: its
 * data-rt-url, else the page's path+query). Every root of the page shares
 * one WebSocket.
 *
 * Returns a Promise that resolves to the root's client ({ key, url, root,
 * state, close() }) once its first fragment is on the page, and rejects
 * with an Error carrying .code and .reason when the server refuses the
 * root (44xx) or close() ends it first (or at once, without .code, when
 * the page has no such root).
 *
 * Called again for the same root: with the same key and url it returns the
 * SAME Promise (no second socket, a console warning once); with another key
 * or url the root is re-subscribed: its former client closes (its Promise
 * rejects if still pending) and the page's one socket is replaced by one
 * carrying the new pair, and a new Promise is returned.
 */
export function initRealtimeClient(opts) {
	try {
		return window.keycast.start(opts).ready;
	} catch (e) {
		return Promise.reject(e);	/* no root on the page */
	}
}
