// Error handling: the service's errors are openai's APIError (status, code); the encryption's
// own errors are ArkE2EEError with a stable `code`. They are thrown by the fetch, so openai
// wraps them in an APIConnectionError: look at `cause`. When encryption fails, nothing is sent.
import OpenAI from 'openai';
import { ArkE2EEError, createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
});
const model = process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615';

async function ask(content) {
  try {
    const completion = await client.chat.completions.create(
      { model, messages: [{ role: 'user', content }] },
      // No retries here: openai would retry our (deterministic) errors like connection errors.
      { headers: { 'x-is-encrypted': 'true' }, maxRetries: 0 },
    );
    console.log(completion.choices[0].message.content);
  } catch (error) {
    const ours = error instanceof ArkE2EEError ? error : error?.cause;
    if (ours instanceof ArkE2EEError) {
      console.log(`ark-e2ee error ${ours.code}: ${ours.message}`);
    } else if (error instanceof OpenAI.APIError) {
      console.log(`Ark API error ${error.status} ${error.code ?? ''}: ${error.message}`);
    } else {
      throw error;
    }
  }
}

// Answered, or e.g. APIError 429 when rate limited, or ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE
// when the model's certificate cannot be fetched (a wrong key, an unknown model).
await ask('常见的十字花科植物有哪些?');
// Audio cannot be encrypted: refused here with ERR_ARK_E2EE_UNSUPPORTED_CONTENT, nothing sent.
await ask([{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }]);
