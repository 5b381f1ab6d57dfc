import { describe, expect, it } from "vitest";
import { isStopCommand, markdownToMrkdwn, promptFromSlack, splitMessage } from "./text.js";

describe("promptFromSlack", () => {
  it("removes the bot's mention wherever it is, and keeps other people's", () => {
    expect(promptFromSlack("<@UBOT> summarize my tasks", "UBOT")).toBe("summarize my tasks");
    expect(promptFromSlack("<@UBOT|nubabel>: hi", "UBOT")).toBe("hi");
    expect(promptFromSlack("ask <@U123> and <@UBOT> too", "UBOT")).toBe("ask @U123 and too");
  });

  it("turns Slack markup into plain text the agent can use", () => {
    expect(promptFromSlack("see <https://x.com/a|the doc> and <https://y.com> and <https://z.com|z.com>", "B")).toBe(
      "see the doc (https://x.com/a) and https://y.com and https://z.com",
    );
    expect(promptFromSlack("in <#C1|general> cc <!here>: a &lt; b &amp;&amp; c &gt; d", "B")).toBe("in #general cc @here: a < b && c > d");
  });
});

describe("isStopCommand", () => {
  it.each(["stop", "Stop!", "STOP please", "cancel", "abort it"])("%s stops", (text) => expect(isStopCommand(text)).toBe(true));
  it.each(["stop the world from spinning", "don't stop", "stopwatch"])("%s is a prompt", (text) => expect(isStopCommand(text)).toBe(false));
});

describe("markdownToMrkdwn", () => {
  it("converts emphasis, links, headings and bullets", () => {
    expect(markdownToMrkdwn("## **Tasks**\n- **urgent**: fix *it*\n* see [Notion](https://notion.so/x) ~~old~~")).toBe(
      "*Tasks*\n• *urgent*: fix _it_\n• see <https://notion.so/x|Notion> ~old~",
    );
  });

  it("escapes Slack's control characters but leaves code unstyled", () => {
    expect(markdownToMrkdwn("a < b & `x **y** <z>`")).toBe("a &lt; b &amp; `x **y** &lt;z&gt;`");
    expect(markdownToMrkdwn("```ts\nconst a = **b**;\n```\nthen **bold**")).toBe("```\nconst a = **b**;\n```\nthen *bold*");
  });
});

describe("splitMessage", () => {
  it("keeps a short answer whole", () => {
    expect(splitMessage("short")).toEqual(["short"]);
  });

  it("splits at paragraph boundaries within the limit and loses nothing", () => {
    const paragraphs = Array.from({ length: 30 }, (_, i) => `P${i} ${"lorem ".repeat(40)}`.trim());
    const chunks = splitMessage(paragraphs.join("\n\n"), 1_000);
    expect(chunks.length).toBeGreaterThan(4);
    expect(chunks.every((c) => c.length <= 1_000)).toBe(true);
    expect(chunks.join("\n\n")).toBe(paragraphs.join("\n\n"));
  });

  it("closes and reopens a code block cut in two, so each part renders", () => {
    const code = "```\n" + Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n") + "\n```";
    const chunks = splitMessage(code, 500);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(500);
      expect((c.match(/```/g) ?? []).length % 2).toBe(0);
    }
  });

  it("hard-cuts a text without spaces", () => {
    const chunks = splitMessage("x".repeat(2_500), 1_000);
    expect(chunks.map((c) => c.length)).toEqual([996, 996, 508]);
  });
});
