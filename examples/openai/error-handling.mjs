// Error handling: every error is openai's own. The service's errors are APIError (status, code);
// the encryption's refusals come back the same way (by default, `errors: 'response'`): a request
// that cannot be encrypted is a BadRequestError (400) whose `code` is the library's
// ERR_ARK_E2EE_… code, also in the `x-ark-e2ee-error` header; a wrong API key at the certificate
// service is an AuthenticationError (401). Nothing is sent when encryption fails, and a refusal
// is not retried. Network failures stay APIConnectionError (and are retried).
import OpenAI from 'openai';
import { createEncryptedFetch, HEADER_ARK_E2EE_ERROR } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
  maxRetries: 0, // so that the 429 below is shown at once
});
const model = process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615';

async function ask(content) {
  try {
    const completion = await client.chat.completions.create(
      { model, messages: [{ role: 'user', content }] },
      { headers: { 'x-is-encrypted': 'true' } },
    );
    console.log(completion.choices[0].message.content);
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    const ours = error.headers?.get(HEADER_ARK_E2EE_ERROR);
    if (ours) console.log(`ark-e2ee error ${ours} (HTTP ${error.status}): ${error.message}`);
    else console.log(`Ark API error ${error.status} ${error.code ?? ''}: ${error.message}`);
  }
}

// Answered, or e.g. APIError 429 when rate limited, or an AuthenticationError with
// ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE when the model's certificate cannot be had with this key.
await ask('常见的十字花科植物有哪些?');
// Audio cannot be encrypted: refused here with ERR_ARK_E2EE_UNSUPPORTED_CONTENT, nothing sent.
await ask([{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }]);
