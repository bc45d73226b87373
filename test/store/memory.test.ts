import { createMemoryStore } from '../../src/store/index.js';
import { runStoreContract } from './contract.js';

runStoreContract('memory', async () => {
  const store = createMemoryStore();
  return {
    store,
    cleanup: async () => {},
    inspect: { blobCount: async () => store.stats().blobs },
  };
});
