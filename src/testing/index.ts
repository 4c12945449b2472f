/** `ark-e2ee/testing`: a local mock of Ark's encrypted chat service, for tests and the demo. */
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
  deriveServerSession,
  serverEncrypt,
  serverDecrypt,
  decryptRequestMessages,
  type ServerSession,
} from './service-crypto.js';
export {
  MOCK_MODELS,
  MOCK_CONTENT_FILTER_TEXT,
  MOCK_TOOL_ARGUMENTS,
  MOCK_TOOL_CALL_ID,
  mockAnswerText,
  mockReasoningText,
  mockLongText,
  mockLongModel,
  mockPieces,
  contentText,
  scenarioForModel,
  type MockScenario,
} from './scenarios.js';
export {
  CERTIFICATE_FAULTS,
  replayedOrder,
  chatFaultForModel,
  p384CertificatePem,
  type CertificateFault,
  type ChatFault,
} from './faults.js';
export { createMockOpenApi, type MockOpenApi, type MockOpenApiOptions, type MockOpenApiStats } from './openapi-mock.js';
export { createMockPcaChain, type MockPcaChain } from './openapi-pki.js';
