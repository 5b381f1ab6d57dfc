import { MemoryConnectionStore } from "../../src/mcp/memory-connection-store.js";
import { connectionStoreContract } from "./connection-store.contract.js";

connectionStoreContract("memory", async () => {
  const store = new MemoryConnectionStore();
  return { store, insert: async (row) => store.put(row) };
});
