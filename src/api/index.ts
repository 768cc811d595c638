/** The local API: REST + WebSocket + MCP over the core, for the editor and the headless server alike. */
export { startApiServer, type ApiServer, type ApiServerOptions } from './server';
export { buildOpenApi } from './openapi';
export { loadOrCreateTokenFile, newToken } from './security';
export type { EventMessage } from './events';
