import { MemoryConnectionStore } from "../../src/mcp/memory-connection-store.js";
import { connectionStoreContract, sealedRowsContract } from "./connection-store.contract.js";

connectionStoreContract("memory", async () => {
  const store = new MemoryConnectionStore();
  return { store, insert: async (row) => store.put(row) };
});

sealedRowsContract("memory", async () => {
  const store = new MemoryConnectionStore();
  return {
    rows: store,
    insert: async (row) => store.put(row),
    sealedOf: async (id) => {
      for (const r of store.listSealed()) if (r.id === id) return r.sealed;
      return undefined;
    },
  };
});
