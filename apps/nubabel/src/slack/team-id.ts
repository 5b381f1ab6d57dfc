import { z } from "zod";

/**
 * A Slack workspace id as `nubabel org link-slack --team` takes it: `T…` for a workspace, `E…` for
 * an Enterprise Grid organization. Checked at the boundary (CLI, admin route) so a channel or user
 * id pasted by mistake is refused instead of linking nothing.
 */
export const SlackTeamId = z
  .string()
  .trim()
  .regex(/^[TE][A-Z0-9]{2,30}$/, "must be a Slack team id like T0123ABCD (see the workspace's About page or auth.test)");
export type SlackTeamId = z.infer<typeof SlackTeamId>;
