/** Names and numbers fixed by the wire protocol (docs/protocol.md). */

/** Request header that turns encryption on (protocol §2); compared case-insensitively. */
export const HEADER_IS_ENCRYPTED = 'x-is-encrypted';
/** Base64 of the ephemeral public point (protocol §2 step 4). */
export const HEADER_SESSION_TOKEN = 'X-Session-Token';
/** JSON with ExpireTime and, in AICC mode, Version, RingID, KeyID (protocol §2). */
export const HEADER_ENCRYPT_INFO = 'X-Encrypt-Info';

/** HKDF output: 32-byte AES-256 key followed by a 12-byte GCM nonce (protocol §2 step 2-3). */
export const SESSION_KEY_LENGTH = 32;
export const SESSION_NONCE_LENGTH = 12;
export const HKDF_OUTPUT_LENGTH = SESSION_KEY_LENGTH + SESSION_NONCE_LENGTH;

/** AICC (confidential computing) mode version string (protocol §1, §2). */
export const AICC_VERSION = 'AICCv0.1';
/** SAN DNS-name prefixes that carry the AICC key ring and key ids (protocol §1). */
export const AICC_RING_PREFIX = 'ring.';
export const AICC_KEY_PREFIX = 'key.';

/** Certificate endpoint, relative to the base URL, and its fixed session-token marker (§1). */
export const CERTIFICATE_PATH = '/e2e/get/certificate';
export const CERTIFICATE_SESSION_TOKEN = '/e2e/get/certificate';

/** Path suffixes of the requests the protocol encrypts (§6). */
export const CHAT_COMPLETIONS_SUFFIX = '/chat/completions';
export const BATCH_CHAT_COMPLETIONS_SUFFIX = '/batch/chat/completions';

/** A certificate in memory or on disk is used this long, then loaded afresh (§1). */
export const CERTIFICATE_RELOAD_MS = 14 * 24 * 60 * 60 * 1000;

/** The choice finish reason whose content the service sends in plain text (§5). */
export const FINISH_REASON_CONTENT_FILTER = 'content_filter';
