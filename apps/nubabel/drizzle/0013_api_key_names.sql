ALTER TABLE "api_keys" ADD COLUMN "name" text;--> statement-breakpoint
CREATE INDEX "api_keys_organization_idx" ON "api_keys" USING btree ("organization_id");