// A seeded random source for property tests (mulberry32): a failure names
// its seed, so the case can be replayed. rng(seed)(n) is an integer in 0..n-1.
export function rng(seed) {
	return (n) => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return (((t ^ (t >>> 14)) >>> 0) % n);
	};
}
