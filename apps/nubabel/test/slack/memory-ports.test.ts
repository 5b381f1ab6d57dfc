import { Webhooks } from "@nubabel/contracts";
import { MemoryEventDedupe, MemorySlackLinks, MemorySlackThreads } from "../../src/slack/index.js";
import { eventDedupeContract, slackLinksContract, slackThreadsContract } from "./port-contracts.js";

slackThreadsContract("memory", () => new MemorySlackThreads(), ["org_a", "org_b"]);
eventDedupeContract("memory", () => new MemoryEventDedupe());
slackLinksContract(
  "memory",
  async () => {
    const links = new MemorySlackLinks();
    return { links, link: async (team, org) => links.link(team, org) };
  },
  ["org_a", "org_b"],
);

// Nubabel's webhook replay guard has the same promise, so main.ts may hand it to the bot as is.
eventDedupeContract("Webhooks.MemoryReplayGuard", () => new Webhooks.MemoryReplayGuard());
