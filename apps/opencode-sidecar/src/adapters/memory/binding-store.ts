import type { Binding, BindingStore } from "../../bindings/binding.js";

/** In-process bindings: lost on restart, which a follow-up that re-sends its binding survives. */
export class MemoryBindingStore implements BindingStore {
  private readonly map = new Map<string, Binding>();

  async get(id: string): Promise<Binding | undefined> {
    return this.map.get(id);
  }

  async set(binding: Binding): Promise<void> {
    this.map.set(binding.opencodeSessionId, binding);
  }
}
