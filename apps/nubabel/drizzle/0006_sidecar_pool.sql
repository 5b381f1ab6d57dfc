ALTER TABLE "runs" ADD COLUMN "context_restored" jsonb;--> statement-breakpoint
CREATE INDEX "session_mappings_org_created_idx" ON "session_mappings" USING btree ("organization_id","created_at");