export { createMemoryStore, type MemoryStore, type MemoryStoreStats } from './memory-store.js';
