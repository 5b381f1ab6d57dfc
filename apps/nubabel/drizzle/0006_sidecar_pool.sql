ALTER TABLE "runs" ADD COLUMN "context_restored" jsonb;--> statement-breakpoint
CREATE INDEX "session_mappings_org_created_idx" ON "session_mappings" USING btree ("organization_id","created_at");--> statement-breakpoint
-- Sidecar URLs are now kept without a trailing slash (SIDECAR_URLS is normalized), so placement and
-- failing a gone sidecar's runs match the mappings and runs written before.
UPDATE "session_mappings" SET "sidecar_url" = rtrim("sidecar_url", '/') WHERE "sidecar_url" LIKE '%/';--> statement-breakpoint
UPDATE "runs" SET "sidecar_url" = rtrim("sidecar_url", '/') WHERE "sidecar_url" LIKE '%/';
