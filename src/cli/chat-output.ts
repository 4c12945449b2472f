/**
 * How `ark-e2ee chat` prints an answer: choice 0 as it arrives, its reasoning dimmed before it
 * (or not at all with --no-reasoning), other choices labelled after it, and every finish_reason
 * that is not `stop` named, so that nothing runs together or goes unsaid.
 */
import { createParser } from 'eventsource-parser';

export interface ChatOutput {
  out: NodeJS.WritableStream;
  /** Dim reasoning with ANSI codes (a terminal); otherwise it is marked `[reasoning]`. */
  color: boolean;
  reasoning: boolean;
}

interface ChoiceText {
  index: number;
  reasoning: string;
  content: string;
  finishReason: string | null;
}

interface WireChoice {
  index?: number;
  finish_reason?: string | null;
  delta?: { content?: string | null; reasoning_content?: string | null };
  message?: { content?: string | null; reasoning_content?: string | null };
}

function reasoningText(text: string, options: ChatOutput): string {
  return options.color ? `\x1b[2m${text}\x1b[22m` : text;
}

function finishNote(choice: ChoiceText): string {
  return choice.finishReason !== null && choice.finishReason !== 'stop' ? `(finish_reason: ${choice.finishReason})\n` : '';
}

/** The choices after the first, labelled, and the first one's finish note. */
function trailer(choices: Map<number, ChoiceText>, options: ChatOutput): string {
  let text = '';
  const first = choices.get(0);
  if (first) text += finishNote(first);
  for (const choice of [...choices.values()].filter((c) => c.index !== 0).sort((a, b) => a.index - b.index)) {
    text += `[choice ${choice.index}] `;
    if (options.reasoning && choice.reasoning !== '') text += `${reasoningText(`[reasoning] ${choice.reasoning}`, options)}\n`;
    text += `${choice.content}\n${finishNote(choice)}`;
  }
  return text;
}

/** Prints a decrypted event stream as it arrives. */
export async function printStream(response: Response, options: ChatOutput): Promise<void> {
  const choices = new Map<number, ChoiceText>();
  const { out } = options;
  let state: 'start' | 'reasoning' | 'content' = 'start';
  const parser = createParser({
    onEvent: (event) => {
      if (event.data === '[DONE]') return;
      const chunk = JSON.parse(event.data) as { choices?: WireChoice[] };
      for (const wire of chunk.choices ?? []) {
        const index = wire.index ?? 0;
        let choice = choices.get(index);
        if (choice === undefined) {
          choice = { index, reasoning: '', content: '', finishReason: null };
          choices.set(index, choice);
        }
        const reasoning = wire.delta?.reasoning_content ?? '';
        const content = wire.delta?.content ?? '';
        choice.reasoning += reasoning;
        choice.content += content;
        if (wire.finish_reason) choice.finishReason = wire.finish_reason;
        if (index !== 0) continue; // printed after the first, labelled
        if (reasoning !== '' && options.reasoning) {
          if (state === 'start') out.write(reasoningText('[reasoning] ', options));
          state = 'reasoning';
          out.write(reasoningText(reasoning, options));
        }
        if (content !== '') {
          // The content filter's notice is plain text after whatever had come: its own line.
          if (state === 'reasoning' || (state === 'content' && wire.finish_reason === 'content_filter')) out.write('\n');
          state = 'content';
          out.write(content);
        }
      }
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    parser.feed(decoder.decode(next.value, { stream: true }));
  }
  out.write(`\n${trailer(choices, options)}`);
}

/** Prints a decrypted chat completion. */
export function printCompletion(completion: { choices?: WireChoice[] }, options: ChatOutput): void {
  const list = completion.choices ?? [];
  const labelled = list.length > 1;
  let text = '';
  for (const wire of list) {
    const choice: ChoiceText = {
      index: wire.index ?? 0,
      reasoning: wire.message?.reasoning_content ?? '',
      content: wire.message?.content ?? '',
      finishReason: wire.finish_reason ?? null,
    };
    if (labelled) text += `[choice ${choice.index}] `;
    if (options.reasoning && choice.reasoning !== '') text += `${reasoningText(`[reasoning] ${choice.reasoning}`, options)}\n`;
    text += `${choice.content}\n${finishNote(choice)}`;
  }
  options.out.write(text === '' ? '\n' : text);
}
