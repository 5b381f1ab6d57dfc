ALTER TABLE "approvals" ADD COLUMN "call_id" text;--> statement-breakpoint
CREATE INDEX "approvals_org_session_call_idx" ON "approvals" USING btree ("organization_id","session_id","call_id");--> statement-breakpoint
CREATE INDEX "approvals_unreplied_idx" ON "approvals" USING btree ("decided_at") WHERE "approvals"."status" <> 'pending' and "approvals"."replied_at" is null;