import { describe, expect, it } from "vitest";
import { SlackTeamId } from "./team-id.js";

describe("SlackTeamId", () => {
  it("accepts workspace and enterprise ids", () => {
    expect(SlackTeamId.parse(" T0123ABCD ")).toBe("T0123ABCD");
    expect(SlackTeamId.parse("E0ABCDEF1")).toBe("E0ABCDEF1");
  });
  it.each(["C0123ABCD", "U0123ABCD", "t0123abcd", "T", "T0123-ABC"])("refuses %s", (id) => {
    expect(SlackTeamId.safeParse(id).success).toBe(false);
  });
});
