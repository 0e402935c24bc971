// Interleaved OLD vs NEW checkouts in one process (bench/ab/README.md): the server's per-chunk work, the client's finalize and blinding, CPU µs per element.
const load = async (root) => ({
  group: await import(`${root}/dist/src/group/index.js`),
  oprf: await import(`${root}/dist/src/oprf/index.js`),
  quota: await import(`${root}/dist/src/protocol/discovery/quota.js`),
});
const [oldRoot, newRoot] = process.argv.slice(2, 4);
if (!oldRoot || !newRoot) throw new Error('usage: node bench/ab/crypto-per-element.mjs OLD_CHECKOUT NEW_CHECKOUT [n] [runs]');
const A = await load(oldRoot), B = await load(newRoot);
const n = +(process.argv[4] ?? 1024);
import { randomBytes } from 'node:crypto';
const rng = (k) => new Uint8Array(randomBytes(k));
const mk = async (M) => { const g = await M.group.loadGroup('ristretto255', 'auto'); return M.oprf.createSuite('ristretto255-SHA512', M.oprf.Modes.VOPRF, g); };
const sa = await mk(A), sb = await mk(B);
const inputs = Array.from({ length: n }, (_, i) => new TextEncoder().encode('tel:+1415555' + i));
const kp = sa.generateKeyPair(rng);
const state = sa.blind(inputs, rng);
const ev = sa.blindEvaluateVerifiable(kp.secretKey, state.blinded, rng);
const serverWork = (s, M) => () => {
  s.group.validatePacked(state.blinded);
  const h = []; for (let o = 0; o < state.blinded.length; o += 32) h.push(M.quota.hexOf(M.quota.chargeHash(state.blinded.subarray(o, o + 32))));
  // Before bcd7204 the ledger hashed every element a second time: counted for the old code only.
  if (M === A && !M.quota.chargeHashesHex) { for (let o = 0; o < state.blinded.length; o += 32) h.push(M.quota.hexOf(M.quota.chargeHash(state.blinded.subarray(o, o + 32)))); }
  s.blindEvaluateVerifiable(kp.secretKey, state.blinded, rng);
};
const clientWork = (s) => () => s.finalize(state, ev.evaluated, { proof: ev.proof, publicKey: kp.publicKey });
const blindWork = (s) => () => s.blind(inputs, rng);
const time = (f) => { const t = process.cpuUsage(); f(); const d = process.cpuUsage(t); return (d.user + d.system) / 1000; };
const res = { server: [[], []], finalize: [[], []], blind: [[], []] };
for (let r = 0; r < +(process.argv[5] ?? 7); r++) {
  res.server[0].push(time(serverWork(sa, A))); res.server[1].push(time(serverWork(sb, B)));
  res.finalize[0].push(time(clientWork(sa))); res.finalize[1].push(time(clientWork(sb)));
  res.blind[0].push(time(blindWork(sa))); res.blind[1].push(time(blindWork(sb)));
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const min = (a) => Math.min(...a);
for (const k of Object.keys(res)) {
  const [o, nn] = res[k];
  console.log(`${k.padEnd(9)} n=${n}: old ${(1000 * min(o) / n).toFixed(1)} µs/elt (median ${(1000 * med(o) / n).toFixed(1)}), new ${(1000 * min(nn) / n).toFixed(1)} (median ${(1000 * med(nn) / n).toFixed(1)}); old/new min ${(min(o) / min(nn)).toFixed(3)}, median ${(med(o) / med(nn)).toFixed(3)}`);
}
console.log('load', (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' '));
