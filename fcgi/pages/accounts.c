/* Accounts: sign-up, sign-in and sign-out pages (plain forms, so they work
 * without JavaScript) and the viewer of each request. Sign-in and sign-up
 * always start a new session and end the one the request carried, so a
 * token planted before sign-in never becomes a signed-in one. Failed
 * sign-ins are counted in the database (workers share nothing else) per
 * client address and per name; past either limit the answer is 429 before
 * any password is checked. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycast.h"
#include "app.h"	/* the sign-in limits keycast-fcgi's flags set */
#include "log.h"
#include "session.h"

#define NAME_MAX_LEN	32
#define PW_MIN		8
#define PW_MAX		256

enum {
	ACCT_VIEWER, ACCT_TOUCH, ACCT_EXPIRE, ACCT_SIGNUP, ACCT_USER, ACCT_SESSION_NEW,
	ACCT_SESSION_END, ACCT_FAILURES, ACCT_FAIL, ACCT_FAIL_CLEAR, ACCT_NSTMTS
};

static const struct db_stmt stmts[ACCT_NSTMTS] = {
	/* Reading who it is writes nothing (a read-only server can serve
	 * it); last_seen is written when 5 minutes old (acct_touch), and a
	 * session unused for --session-idle days is deleted (acct_expire). */
	[ACCT_VIEWER] = { "acct_viewer",
	  "SELECT u.id, u.name, u.role, s.last_seen < now() - interval "
	  "'5 minutes', s.last_seen <= now() - make_interval(days => $2::int) "
	  "FROM sessions s JOIN users u ON u.id = s.user_id "
	  "WHERE s.token_hash = $1", 2 },
	[ACCT_TOUCH] = { "acct_touch",
	  "UPDATE sessions SET last_seen = now() WHERE token_hash = $1", 1 },
	/* A session idle past --session-idle: its row goes, and the
	 * trigger of sql/005_accounts.sql revokes its sockets. */
	[ACCT_EXPIRE] = { "acct_expire",
	  "DELETE FROM sessions WHERE token_hash = $1 AND "
	  "last_seen <= now() - make_interval(days => $2::int)", 2 },
	[ACCT_SIGNUP] = { "acct_signup",
	  "INSERT INTO users (name, pw_hash) VALUES ($1, $2) "
	  "ON CONFLICT (lower(name)) DO NOTHING RETURNING id", 2 },
	[ACCT_USER] = { "acct_user", "SELECT id, pw_hash FROM users WHERE lower(name) = "
	  "lower($1)", 1 },
	[ACCT_SESSION_NEW] = { "acct_session_new",
	  "INSERT INTO sessions (token_hash, user_id) VALUES ($1, $2::bigint)", 2 },
	[ACCT_SESSION_END] = { "acct_session_end", "DELETE FROM sessions WHERE token_hash = $1", 1 },
	[ACCT_FAILURES] = { "acct_failures",
	  "SELECT (SELECT count(*) FROM signin_failures WHERE addr = $1 AND "
	  "at > now() - make_interval(secs => $3::int)), (SELECT count(*) "
	  "FROM signin_failures WHERE name = lower($2) AND "
	  "at > now() - make_interval(secs => $3::int))", 3 },
	/* Rows past the window go as new ones come: the table stays small. */
	[ACCT_FAIL] = { "acct_fail",
	  "WITH old AS (DELETE FROM signin_failures WHERE "
	  "at < now() - make_interval(secs => $3::int)) "
	  "INSERT INTO signin_failures (addr, name) VALUES ($1, lower($2))", 3 },
	[ACCT_FAIL_CLEAR] = { "acct_fail_clear",
	  "DELETE FROM signin_failures WHERE name = lower($1)", 1 },
};

/* Fills rq->viewer from the kc_session cookie; DB_OK or an app_query
 * code. */
static int
viewer_from_cookie(struct req *rq)
{
	char hash[SESS_HASH_HEX + 1], idle[16];
	const char *params[2];
	PGresult *r;
	int rc, touch = 0, expired = 0;

	memset(&rq->viewer, 0, sizeof(rq->viewer));
	rc = sess_from_cookie(rq->cookie, hash);
	if (rc == 0)
		return DB_OK;
	rq->viewer.stale = 1;
	if (rc < 0)
		return DB_OK;
	rq->viewer.session = arena_strdup(rq->arena, hash);
	snprintf(idle, sizeof(idle), "%d", rq->app->session_idle_days);
	params[0] = hash;
	params[1] = idle;
	rc = app_query(rq, &stmts[ACCT_VIEWER], params, &r);
	if (rc != DB_OK)
		return rc;
	if (PQntuples(r) == 1)
		expired = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	if (PQntuples(r) == 1 && !expired) {
		rq->viewer.id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rq->viewer.name = arena_strdup(rq->arena, PQgetvalue(r, 0, 1));
		rq->viewer.moderator = strcmp(PQgetvalue(r, 0, 2),
		    "moderator") == 0;
		rq->viewer.stale = 0;
		touch = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
	}
	PQclear(r);
	/* Best effort: a failure (logged) must not refuse the page. */
	if (touch && app_query(rq, &stmts[ACCT_TOUCH], params, &r) == DB_OK)
		PQclear(r);
	if (expired && app_query(rq, &stmts[ACCT_EXPIRE], params, &r) == DB_OK)
		PQclear(r);
	return DB_OK;
}

static int
name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static const char *
field(struct req *rq, const char *name)
{
	const char *v = kv_get(rq->form, name);

	return v != NULL ? v : "";
}

/* The sign-in or sign-up form, with an error when a post was refused. */
static int
form_page(struct req *rq, struct resp *rs, int signup, int status,
    const char *error)
{
	struct arena *a = rq->arena;
	struct tpl_val *ctx = tpl_map(a);

	tpl_put(a, ctx, "signup", tpl_bool(a, signup));
	tpl_put(a, ctx, "action", tpl_str(a, signup ? "/signup" : "/signin"));
	tpl_put(a, ctx, "heading", tpl_str(a, signup ? "Sign up" : "Sign in"));
	tpl_put(a, ctx, "name", tpl_str(a, kv_get(rq->form, "name")));
	tpl_put(a, ctx, "error", tpl_str(a, error));
	if (rq->viewer.id != 0)
		tpl_put(a, ctx, "current", tpl_str(a, rq->viewer.name));
	if (app_page(rq, rs, signup ? "Sign up" : "Sign in", NULL, "account",
	    ctx) == 200)
		rs->status = status;
	return rs->status;
}

static int
page_signin(struct req *rq, struct resp *rs)
{
	return form_page(rq, rs, 0, 200, NULL);
}

static int
page_signup(struct req *rq, struct resp *rs)
{
	return form_page(rq, rs, 1, 200, NULL);
}

static void
set_cookie(struct req *rq, struct resp *rs, const char *value)
{
	int https = strcmp(rq->scheme, "https") == 0;

	resp_header(rs, "Set-Cookie", SESS_COOKIE "=%s;%s HttpOnly; "
	    "SameSite=Lax; Path=/%s", value, value[0] == '\0' ? " Max-Age=0;" :
	    "", https ? "; Secure" : "");
}

/* The feature's identify hook: the viewer of every request; a page GET
 * whose cookie names no session gets it deleted, so the page's WebSocket
 * is anonymous instead of refused. */
static int
acct_identify(struct req *rq, struct resp *rs)
{
	int rc = viewer_from_cookie(rq);

	if (rc == DB_OK && rq->viewer.stale && (strcmp(rq->method, "GET") == 0 ||
	    strcmp(rq->method, "HEAD") == 0))
		set_cookie(rq, rs, "");
	return rc;
}

/* Deletes the session the request carried, if any. The trigger on sessions
 * sends session:<hash> on keycast_revoke: its open sockets close with
 * 4401. Returns DB_OK or app_query's error. */
static int
end_session(struct req *rq)
{
	const char *params[1];
	PGresult *r;
	int rc;

	if (rq->viewer.session == NULL)
		return DB_OK;
	params[0] = rq->viewer.session;
	rc = app_query(rq, &stmts[ACCT_SESSION_END], params, &r);
	if (rc == DB_OK)
		PQclear(r);
	return rc;
}

/* Ends the session the request carried (if any) and starts one for uid:
 * the new token is the cookie, the old one no longer signs anyone in. */
static int
start_session(struct req *rq, struct resp *rs, const char *uid)
{
	char cookie[SESS_COOKIE_LEN + 1], hash[SESS_HASH_HEX + 1];
	const char *params[2];
	PGresult *r;
	int rc;

	if ((rc = end_session(rq)) != DB_OK)
		return app_db_error(rq, rs, rc);
	sess_new(cookie, hash);
	params[0] = hash;
	params[1] = uid;
	rc = app_query(rq, &stmts[ACCT_SESSION_NEW], params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	set_cookie(rq, rs, cookie);
	return app_mutated(rq, rs, "/");
}

static int
post_signup(struct req *rq, struct resp *rs)
{
	const char *name = field(rq, "name"), *pw = field(rq, "password");
	char pwhash[SESS_PW_HASH_MAX];
	const char *params[2];
	char uid[24];
	PGresult *r;
	int rc, taken;

	if (!name_valid(name))
		return form_page(rq, rs, 1, 422, "A name is 1 to 32 of "
		    "A-Z, a-z, 0-9, _, . and -.");
	if (strlen(pw) < PW_MIN || strlen(pw) > PW_MAX)
		return form_page(rq, rs, 1, 422,
		    "A password is 8 to 256 characters.");
	if (sess_pw_hash(pw, pwhash) != 0) {
		log_error("password hashing failed (out of memory?)");
		return app_error(rq, rs, 503, "Try again shortly.");
	}
	params[0] = name;
	params[1] = pwhash;
	rc = app_query(rq, &stmts[ACCT_SIGNUP], params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	taken = PQntuples(r) == 0;
	if (!taken)
		snprintf(uid, sizeof(uid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (taken)
		return form_page(rq, rs, 1, 422, "That name is taken.");
	return start_session(rq, rs, uid);
}

/* 1 when the client or the name is past its failure limit. */
static int
rate_limited(struct req *rq, const char *name, const char *window, int *dbrc)
{
	const char *params[] = { rq->remote_addr, name, window };
	struct app *app = rq->app;
	PGresult *r;
	int limited;

	*dbrc = app_query(rq, &stmts[ACCT_FAILURES], params, &r);
	if (*dbrc != DB_OK)
		return 0;
	limited = strtol(PQgetvalue(r, 0, 0), NULL, 10) >= app->fail_per_addr ||
	    strtol(PQgetvalue(r, 0, 1), NULL, 10) >= app->fail_per_name;
	PQclear(r);
	return limited;
}

static int
post_signin(struct req *rq, struct resp *rs)
{
	const char *name = field(rq, "name"), *pw = field(rq, "password");
	const char *params[3];
	char window[16], uid[24];
	PGresult *r;
	int rc, ok;

	snprintf(window, sizeof(window), "%d", rq->app->fail_window_s);
	if (rate_limited(rq, name, window, &rc)) {
		log_warn("sign-in refused: too many failures from %s or for "
		    "that name", rq->remote_addr);
		app_error(rq, rs, 429, arena_printf(rq->arena, "Too many failed "
		    "sign-ins from your address or for this account. Wait %d "
		    "minutes, then try again.", (rq->app->fail_window_s + 59) / 60));
		resp_header(rs, "Retry-After", "%d", rq->app->fail_window_s);
		return 429;
	}
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	params[0] = name;
	rc = app_query(rq, &stmts[ACCT_USER], params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	ok = PQntuples(r) == 1 ? sess_pw_check(PQgetvalue(r, 0, 1), pw) :
	    sess_pw_check_none(pw);
	if (ok)
		snprintf(uid, sizeof(uid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!ok) {
		params[0] = rq->remote_addr;
		params[1] = name;
		params[2] = window;
		rc = app_query(rq, &stmts[ACCT_FAIL], params, &r);
		if (rc != DB_OK)
			return app_db_error(rq, rs, rc);
		PQclear(r);
		return form_page(rq, rs, 0, 401, "Wrong name or password.");
	}
	params[0] = name;
	rc = app_query(rq, &stmts[ACCT_FAIL_CLEAR], params, &r);
	if (rc != DB_OK)
		return app_db_error(rq, rs, rc);
	PQclear(r);
	return start_session(rq, rs, uid);
}

static int
post_signout(struct req *rq, struct resp *rs)
{
	int rc;

	if ((rc = end_session(rq)) != DB_OK)
		return app_db_error(rq, rs, rc);
	set_cookie(rq, rs, "");
	return app_mutated(rq, rs, "/");
}

static const struct route routes[] = {
	{ "GET", "/signup", page_signup },
	{ "POST", "/signup", post_signup },
	{ "GET", "/signin", page_signin },
	{ "POST", "/signin", post_signin },
	{ "POST", "/signout", post_signout },
};

static const char *const templates[] = { "account", NULL };
static const char *const migrations[] = { "005_accounts.sql", NULL };

/* No key: its pages are never pushed. The triggers of sql/005_accounts.sql
 * send revocation tags on keycast_revoke (session:<hash>, user:<id>). */
const struct feature feature_accounts = {
	.name = "accounts",
	.routes = routes, .nroutes = KC_LEN(routes),
	.stmts = stmts, .nstmts = ACCT_NSTMTS,
	.templates = templates,
	.migrations = migrations,
	.identify = acct_identify,
};
