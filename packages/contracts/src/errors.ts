import { z } from "zod";

/** Every error response of both services has this body. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Issues of a failed parse as `path: message` lines, so a 400 names the field. */
export function describeIssues(error: z.ZodError): { message: string; fields: string[] } {
  // An unknown field is named itself, not its object: `limit`, not `(body)`.
  const named = error.issues.flatMap((i) =>
    i.code === "unrecognized_keys" ? i.keys.map((key) => ({ path: [...i.path, key], message: "is not a known field" })) : [{ path: i.path, message: i.message }],
  );
  const fields = named.map((i) => (i.path.length ? i.path.join(".") : "(body)"));
  const message = named.map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`).join("; ");
  return { message, fields };
}
