/** Transports that carry sans-I/O sessions; today one: WebSocket (ws in Node, WebSocket in browsers). */
export * from './ws/index.js';
