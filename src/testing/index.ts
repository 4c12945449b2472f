/**
 * `ark-e2ee/testing`: a local mock of Ark's encrypted chat service, for a user's own tests and the
 * demo. Exported here is what such tests need: the mock server, its certificate, the scenarios
 * it answers (and the texts to check answers against) and the fault modes one can ask it for.
 * The service-side crypto and the mock's internals stay in their modules; this repository's
 * tests import them from there.
 */
export {
  startMockArkServer,
  MOCK_API_PREFIX,
  type MockArkServer,
  type MockArkServerOptions,
  type MockArkServerStats,
  type RecordedRequest,
} from './mock-server.js';
export {
  createMockCertificate,
  MOCK_CERTIFICATE_SUBJECT,
  DEFAULT_MOCK_RING_ID,
  DEFAULT_MOCK_KEY_ID,
  type MockCertificate,
  type MockCertificateOptions,
} from './certificate-authority.js';
export {
  MOCK_MODELS,
  MOCK_CONTENT_FILTER_TEXT,
  MOCK_TOOL_ARGUMENTS,
  MOCK_TOOL_CALL_ID,
  mockAnswerText,
  mockReasoningText,
  mockLongText,
  mockLongModel,
  type MockScenario,
} from './scenarios.js';
export { CERTIFICATE_FAULTS, type CertificateFault, type ChatFault } from './faults.js';
export type { MockOpenApi, MockOpenApiOptions, MockOpenApiStats } from './openapi-mock.js';
