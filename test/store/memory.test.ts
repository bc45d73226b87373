import { createMemoryStore } from '../../src/store/index.js';
import { runStoreContract } from './contract.js';
import { runFeaturesContract } from './features-contract.js';
import { runForwardContract, runQueueContract } from './queue-contract.js';

runStoreContract('memory', async () => {
  const store = createMemoryStore();
  return {
    store,
    cleanup: async () => {},
    inspect: { blobCount: async () => store.stats().blobs },
  };
});

runQueueContract('memory', async () => {
  const store = createMemoryStore();
  return { store, cleanup: async () => {}, inspect: { blobCount: async () => store.stats().blobs } };
});
runForwardContract('memory', async () => {
  const store = createMemoryStore();
  return { store, cleanup: async () => {}, inspect: { blobCount: async () => store.stats().blobs } };
});
runFeaturesContract('memory', async () => {
  const store = createMemoryStore();
  return { store, cleanup: async () => {}, inspect: { blobCount: async () => store.stats().blobs } };
});
