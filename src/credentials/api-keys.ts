/**
 * Short-lived API keys per endpoint, from the OpenAPI action `GetApiKey`, as the official SDKs
 * keep them: asked for 7 days; from 30 minutes before expiry a refresh is started in the
 * background while the current key is still used (a failed background refresh keeps it); from
 * 10 minutes before expiry (or with no key) every request waits for the refresh, and a failure is
 * its error. One call at a time per endpoint however many requests wait. Keys are never logged
 * and never put in an error message.
 */
import { OpenApiError } from '../errors.js';
import type { OpenApiClient } from './openapi.js';
import { raceAbort } from '../race-abort.js';

export const API_KEY_DURATION_SECONDS = 7 * 24 * 60 * 60;
/** From this long before expiry a refresh is started, the current key still used meanwhile. */
export const API_KEY_ADVISORY_REFRESH_MS = 30 * 60 * 1000;
/** From this long before expiry (or past it) a request waits for a fresh key. */
export const API_KEY_MANDATORY_REFRESH_MS = 10 * 60 * 1000;

/** The `ResourceType` the SDKs ask a key for, by the form of the model name. */
export function resourceTypeOf(model: string): 'endpoint' | 'presetendpoint' | 'bot' {
  if (model.startsWith('ep-m-')) return 'presetendpoint';
  if (model.startsWith('ep-')) return 'endpoint';
  if (model.startsWith('bot-')) return 'bot';
  return 'presetendpoint'; // a model id: Ark's preset endpoint for it, in a project
}

interface ApiKey {
  key: string;
  expiresMs: number;
}

export interface EndpointApiKeysOptions {
  client: OpenApiClient;
  now: () => number;
  /** Abort a GetApiKey call after this long (ms). */
  timeoutMs: number;
  /** A background refresh failed (the key in hand is still used). */
  onWarning: (message: string) => void;
}

export class EndpointApiKeys {
  private readonly keys = new Map<string, ApiKey>();
  private readonly flights = new Map<string, Promise<ApiKey>>();

  constructor(private readonly options: EndpointApiKeysOptions) {}

  /** The API key for `model` (in project `projectName` for a preset endpoint). */
  async get(model: string, projectName: string | undefined, signal?: AbortSignal | null): Promise<string> {
    const resourceType = resourceTypeOf(model);
    const project = projectName?.trim() || undefined;
    if (resourceType === 'presetendpoint' && project === undefined) {
      throw new OpenApiError(
        `"${model}" is a preset endpoint (a model id), whose API key belongs to a project: set the projectName ` +
          'option or the X-Project-Name header (or use an endpoint id, ep-…); nothing was sent',
        { action: 'GetApiKey' },
      );
    }
    const id = `${resourceType}\n${project ?? ''}\n${model}`;
    const held = this.keys.get(id);
    const left = held === undefined ? 0 : held.expiresMs - this.options.now();
    if (held !== undefined && left >= API_KEY_ADVISORY_REFRESH_MS) return held.key;
    if (held !== undefined && left >= API_KEY_MANDATORY_REFRESH_MS) {
      // Still good for a while: refresh behind this request, keep the key if that fails.
      if (this.flights.has(id)) return held.key;
      this.refresh(id, model, resourceType, project).catch((error: unknown) => {
        this.options.onWarning(`refreshing the API key of "${model}" failed, the current one is used until it is due: ${(error as Error).message}`);
      });
      return held.key;
    }
    return (await raceAbort(this.refresh(id, model, resourceType, project), signal)).key;
  }

  /** Forgets every key held. */
  clear(): void {
    this.keys.clear();
  }

  private refresh(id: string, model: string, resourceType: string, project: string | undefined): Promise<ApiKey> {
    let flight = this.flights.get(id);
    if (flight === undefined) {
      flight = this.load(model, resourceType, project).then((fresh) => {
        this.keys.set(id, fresh);
        return fresh;
      });
      const started = flight;
      const forget = (): void => {
        if (this.flights.get(id) === started) this.flights.delete(id);
      };
      started.then(forget, forget);
      this.flights.set(id, started);
    }
    return flight;
  }

  private async load(model: string, resourceType: string, project: string | undefined): Promise<ApiKey> {
    const action = 'GetApiKey';
    const body: Record<string, unknown> = { DurationSeconds: API_KEY_DURATION_SECONDS, ResourceType: resourceType, ResourceIds: [model] };
    if (project !== undefined) body.ProjectName = project;
    const { client, timeoutMs, now } = this.options;
    const timeout = AbortSignal.timeout(timeoutMs);
    let result: Record<string, unknown>;
    try {
      result = await client.call(action, body, timeout);
    } catch (error) {
      if (timeout.aborted) {
        throw new OpenApiError(`the Volcengine OpenAPI did not answer ${action} within ${timeoutMs} ms; nothing was sent to the chat endpoint`, {
          action,
          cause: error,
        });
      }
      throw error;
    }
    const key = result.ApiKey;
    const expired = result.ExpiredTime;
    if (typeof key !== 'string' || key === '' || /[^\x21-\x7e]/.test(key)) throw client.malformed(action, 'has no usable ApiKey');
    if (typeof expired !== 'number' || !Number.isSafeInteger(expired)) throw client.malformed(action, 'has no ExpiredTime in Unix seconds');
    // Never trusted past what was asked for (an ExpiredTime in ms, say, would never refresh).
    const expiresMs = Math.min(expired * 1000, now() + API_KEY_DURATION_SECONDS * 1000);
    if (expiresMs - now() < API_KEY_MANDATORY_REFRESH_MS) {
      throw client.malformed(action, `gives a key that expires at ${new Date(expiresMs).toISOString()}, too soon to use (check the clock)`);
    }
    return { key, expiresMs };
  }
}

