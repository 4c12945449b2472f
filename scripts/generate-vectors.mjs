#!/usr/bin/env node
// Generates the extra test vectors vectors/extra_*.json (format: vectors/FORMAT.md, protocol:
// docs/protocol.md §2–§5): long and unusual texts, handshakes with edge-case
// ephemeral scalars, every request part type (accepted and refused), answers of thousands of
// ciphertext pieces laid end to end, raw event streams, and tampering at every position.
//
// It is an independent computation: it uses node:crypto primitives only (createECDH on
// prime256v1, hkdfSync sha256, aes-256-gcm, X509Certificate) and imports nothing from the
// project's src/ or dist/, so the vectors check the implementation rather than echo it.
// All random choices come from a PRNG seeded per file (scripts/vectors/common.mjs), so running
// it again gives byte-identical files. The six independent vector files are only read
// (certificate.json, for the two certificates), never written.
//
// Usage: node scripts/generate-vectors.mjs   (npm run vectors:generate)
import { fileURLToPath } from 'node:url';
import { writeVectors } from './vectors/common.mjs';
import { encryptRequestCases } from './vectors/request.mjs';
import { decryptResponseCases } from './vectors/response.mjs';
import { decryptStreamCases } from './vectors/stream.mjs';
import { encryptTextCases, handshakeCases } from './vectors/text-handshake.mjs';

const dir = fileURLToPath(new URL('../vectors', import.meta.url));

const files = [
  ['extra_encrypt_text.json', 'AES-256-GCM of unusual texts: exact UTF-8 lengths 0–33 bytes, 64 KiB and 256 KiB texts (256 KiB instead of 1 MiB keeps the file under 1 MB), ' +
    'every Unicode plane with assigned characters, combining and ZWJ sequences, NUL and control characters, BOM, noncharacters.', encryptTextCases],
  ['extra_handshake.json', 'Handshakes with the two certificates of certificate.json and edge-case ephemeral scalars (1, 2, 3, n-1, n-2, 2^255, ' +
    'leading zero bytes, a public X and a shared secret Z that start with a zero byte, random ones), with aicc false and (AICC certificate only) true.',
  () => handshakeCases(dir)],
  ['extra_encrypt_request.json', 'Every request part type: refused contents, parts and URL schemes (unsupported_content, nothing is sent), ' +
    'and accepted ones: strings, "", null and missing content, text, data:/http(s) images, video, tool calls, 200 messages, a 300 KiB data: URL, ' +
    'all Unicode planes; the rest of the body untouched.', encryptRequestCases],
  ['extra_decrypt_response.json', 'Answers of many ciphertexts laid end to end (10 000 mixed pieces with a run of 1 500 unpadded ones, ' +
    '2 000 unpadded, minimum-size pieces, a 100 KiB ciphertext), several choices and choices left as they are; tampering at every position ' +
    '(decryption_failed), including non-canonical base64. Whole pieces repeated or reordered do authenticate (same key and nonce).', decryptResponseCases],
  ['extra_decrypt_stream.json', 'Raw event streams: LF, CRLF and CR line endings, comments, event:/id:/retry: fields, multi-line data, usage chunk, ' +
    '[DONE], content_filter and empty content left, several choices, tool_calls deltas; tampered chunks (decryption_failed); content for a choice after its content_filter chunk (stream_error).', decryptStreamCases],
];

for (const [name, description, make] of files) {
  const { cases, bytes } = writeVectors(`${dir}/${name}`, description, make());
  console.log(`vectors/${name}: ${cases} cases, ${bytes} bytes`);
}
