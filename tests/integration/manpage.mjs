// A daemon's --help against its man page: the options each lists, with
// their descriptions, the man page's synopsis and the "(default ...)" of each
// description, for the tests that hold the two together.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Roff to plain text: fonts, escaped dashes and backslashes, quotes and the
// macro names go; white space collapses.
const roffText = (roff) => roff.replace(/\\f[BIRP]/g, '').replace(/\\-/g, '-').replace(/\\e/g, '\\')
	.replace(/\\\(lq|\\\(rq/g, '"')
	.split('\n').map((l) => l.replace(/^\.(B|I|BR|BI|IR|RB|RI)\s+/, '').replace(/"/g, '')).join(' ')
	.replace(/\s+/g, ' ');

// The defaults a description names: "(default X)", "(default: X)" or
// "X (default)".
export const defaultsOf = (s) => [...s.matchAll(/\(default:? ([^)]*)\)|(\S+) \(default\)/g)]
	.map((m) => (m[1] ?? m[2]).replace(/\s+/g, ' '));

// { help, man }: Maps from each option ("--name") to its description;
// helpArgs, manArgs: from each option to its argument's name ("N",
// "HOST:PORT|unix:PATH", "" for none; the man page's without spaces or
// fonts); and synopsis, the man page's SYNOPSIS as text. Throws when an
// OPTIONS entry of the man page does not start with a flag.
export function helpAndMan(bin, manPath) {
	const help = new Map();
	const helpArgs = new Map();
	const manArgs = new Map();
	let cur = null;
	for (const line of execFileSync(bin, ['--help'], { encoding: 'utf8' }).split('\n')) {
		const m = /^ {2}(--[a-z-]+)(?: (\S+))?/.exec(line);
		if (m) {
			cur = m[1];
			help.set(cur, line);
			helpArgs.set(cur, m[2] ?? '');
		} else if (cur && /^ {10,}\S/.test(line)) {
			help.set(cur, `${help.get(cur)} ${line.trim()}`);
		} else {
			cur = null;
		}
	}
	const page = readFileSync(manPath, 'utf8');
	const man = new Map();
	// Each .TP entry of OPTIONS: its first line names the flag.
	for (const entry of /\n\.SH OPTIONS\n([\s\S]*?)\n\.SH /.exec(page)[1].split(/^\.TP\n/m).slice(1)) {
		const [first, ...rest] = entry.split('\n');
		const m = /^\.BI?R?\s+\\-\\-([a-z\\-]+)(.*)$/.exec(first);
		if (!m) throw new Error(`${manPath}: an OPTIONS entry starting ${JSON.stringify(first)} names no flag`);
		const flag = `--${m[1].replace(/\\-/g, '-')}`;
		man.set(flag, roffText(rest.join('\n')));
		manArgs.set(flag, m[2].replace(/\\f[BIRP]/g, '').replace(/"/g, '').replace(/\s+/g, ''));
	}
	return { help, man, helpArgs, manArgs, synopsis: roffText(/\.SH SYNOPSIS\n([\s\S]*?)\n\.SH /.exec(page)[1]) };
}
