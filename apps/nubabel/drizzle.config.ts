import { defineConfig } from "drizzle-kit";

// Migrations are generated from src/db/schema.ts with `npx drizzle-kit generate` (run in this
// folder) and committed; the server and the CLI apply them at start.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
});
