// Re-derives the jsonata-js outcomes of tests/data/jsonata_suite.json (kept out of the Rust
// build; needs Node and `npm install jsonata@2.0.6`). Usage, from the repository root:
//   node tests/data/jsonata_suite_oracle.js tests/data/jsonata_suite.json
// Prints every case whose recorded outcome differs from what jsonata-js gives now, and the count.
// Cases with a `stepsim` member differ from jsonata-js on purpose; their jsonata-js outcome is
// still the one recorded. Some jsonata-js pictures never return ($formatNumber(0, '0e0')): such
// expressions are kept out of the file.
const jsonata = require('jsonata');
const fs = require('fs');
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
(async () => {
  let differ = 0;
  for (const c of doc.cases) {
    const got = {};
    try {
      const input = c.input === undefined ? undefined : doc.inputs[c.input];
      const v = await jsonata(c.expr).evaluate(input, c.bindings || {});
      const s = v === undefined ? undefined : JSON.stringify(v);
      if (s === undefined) got.undefined = true; else got.value = JSON.parse(s);
    } catch (err) {
      got.error = err.code || 'ERR';
    }
    const want = {};
    for (const k of ['value', 'undefined', 'error']) if (k in c) want[k] = c[k];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      differ++;
      console.log(JSON.stringify(c.expr), 'recorded', JSON.stringify(want), 'now', JSON.stringify(got));
    }
  }
  console.log(`${doc.cases.length - differ}/${doc.cases.length} recorded outcomes reproduced`);
})();
