#!/usr/bin/env node
// The reference side of the tokenizer parity test: encodes every document of a corpus
// with npm's gpt-3-encoder (unmodified) and writes the ids.
//
//   node tests/tokenizer/gpt3_encode.js NPM_PREFIX CORPUS OUT
//
// CORPUS: UTF-8 documents separated by NUL bytes (each document is encoded on its own:
// the package's encode concatenates arrays in a loop, which is quadratic in the length
// of one call). OUT: for each document, its token count then its ids, all int32
// little-endian. An id the package could not produce (undefined) is written as -1.
'use strict';
const fs = require('fs');
const path = require('path');

const [prefix, corpusPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: gpt3_encode.js NPM_PREFIX CORPUS OUT');
  process.exit(2);
}
const { encode } = require(path.resolve(prefix, 'node_modules', 'gpt-3-encoder'));

const data = fs.readFileSync(corpusPath);
const docs = [];
for (let start = 0; start <= data.length;) {
  let end = data.indexOf(0, start);
  if (end < 0) end = data.length;
  docs.push(data.subarray(start, end).toString('utf8'));
  start = end + 1;
}

const chunks = [];
let total = 0, bad = 0;
for (const doc of docs) {
  const ids = encode(doc);
  const buf = Buffer.alloc(4 * (ids.length + 1));
  buf.writeInt32LE(ids.length, 0);
  ids.forEach((id, i) => {
    if (typeof id !== 'number') bad++;
    buf.writeInt32LE(typeof id === 'number' ? id : -1, 4 * (i + 1));
  });
  chunks.push(buf);
  total += ids.length;
}
fs.writeFileSync(outPath, Buffer.concat(chunks));
console.log(`gpt-3-encoder: ${docs.length} documents, ${data.length} bytes, ${total} tokens` +
            (bad ? `, ${bad} undefined ids` : ''));
