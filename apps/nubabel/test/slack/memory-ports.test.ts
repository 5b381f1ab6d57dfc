import { Webhooks } from "@nubabel/contracts";
import { MemorySlackLinks, MemorySlackThreads } from "../../src/slack/index.js";
import { eventDedupeContract, slackLinksContract, slackThreadsContract } from "./port-contracts.js";

slackThreadsContract("memory", () => new MemorySlackThreads(), ["org_a", "org_b"]);
slackLinksContract(
  "memory",
  async () => {
    const links = new MemorySlackLinks();
    return { links, link: async (team, org) => links.link(team, org) };
  },
  ["org_a", "org_b"],
);

// The bot's in-process dedupe is Nubabel's webhook replay guard, as main.ts wires it.
eventDedupeContract("Webhooks.MemoryReplayGuard", () => new Webhooks.MemoryReplayGuard());
