CREATE TABLE "approval_policies" (
	"organization_id" text NOT NULL,
	"version" integer NOT NULL,
	"policy" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "approval_policies_pk" PRIMARY KEY("organization_id","version")
);
--> statement-breakpoint
CREATE TABLE "approvals" (
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"run_id" text NOT NULL,
	"session_id" text NOT NULL,
	"request_id" text NOT NULL,
	"tool" text NOT NULL,
	"provider" text,
	"arguments" jsonb NOT NULL,
	"approvers" jsonb NOT NULL,
	"status" text NOT NULL,
	"requested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"reason" text,
	"replied_at" timestamp with time zone,
	"slack_channel" text,
	"slack_ts" text
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"organization_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"session_id" text,
	"run_id" text,
	"tool" text,
	"provider" text,
	"connection_id" text,
	"decision" text,
	"status" text,
	"duration_ms" integer,
	"detail" text
);
--> statement-breakpoint
ALTER TABLE "approval_policies" ADD CONSTRAINT "approval_policies_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "approvals_run_request_idx" ON "approvals" USING btree ("run_id","request_id");--> statement-breakpoint
CREATE INDEX "approvals_org_run_idx" ON "approvals" USING btree ("organization_id","run_id","requested_at");--> statement-breakpoint
CREATE INDEX "approvals_pending_idx" ON "approvals" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_id_idx" ON "audit_events" USING btree ("id");--> statement-breakpoint
CREATE INDEX "audit_events_org_seq_idx" ON "audit_events" USING btree ("organization_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_org_run_idx" ON "audit_events" USING btree ("organization_id","run_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_org_session_idx" ON "audit_events" USING btree ("organization_id","session_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_at_idx" ON "audit_events" USING btree ("at");