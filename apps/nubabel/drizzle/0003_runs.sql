-- Sessions become (organization, id); existing rows keep their ids, and messages learn their organization.
CREATE TABLE "runs" (
	"seq" bigserial NOT NULL,
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"session_id" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"prompt" text NOT NULL,
	"user_id" text,
	"category" text,
	"skills" jsonb,
	"origin" jsonb NOT NULL,
	"opencode_session_id" text,
	"sidecar_url" text,
	"output" text,
	"error" jsonb,
	"usage" jsonb,
	"model" text,
	"abort_requested" boolean DEFAULT false NOT NULL,
	"checked_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "messages" DROP CONSTRAINT "messages_session_id_sessions_id_fk";
--> statement-breakpoint
ALTER TABLE "session_mappings" DROP CONSTRAINT "session_mappings_session_id_sessions_id_fk";
--> statement-breakpoint
DROP INDEX "sessions_organization_idx";--> statement-breakpoint
DROP INDEX "messages_session_idx";--> statement-breakpoint
ALTER TABLE "session_mappings" DROP CONSTRAINT "session_mappings_pkey";--> statement-breakpoint
ALTER TABLE "sessions" DROP CONSTRAINT "sessions_pkey";--> statement-breakpoint
ALTER TABLE "session_mappings" ADD CONSTRAINT "session_mappings_pk" PRIMARY KEY("organization_id","session_id");--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_pk" PRIMARY KEY("organization_id","id");--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "organization_id" text;--> statement-breakpoint
UPDATE "messages" SET "organization_id" = "sessions"."organization_id" FROM "sessions" WHERE "sessions"."id" = "messages"."session_id";--> statement-breakpoint
DELETE FROM "messages" WHERE "organization_id" IS NULL;--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "organization_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_session_fk" FOREIGN KEY ("organization_id","session_id") REFERENCES "public"."sessions"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "runs_seq_idx" ON "runs" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "runs_session_idx" ON "runs" USING btree ("organization_id","session_id","seq");--> statement-breakpoint
CREATE INDEX "runs_org_status_idx" ON "runs" USING btree ("organization_id","status","seq");--> statement-breakpoint
CREATE INDEX "runs_status_idx" ON "runs" USING btree ("status");--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_session_fk" FOREIGN KEY ("organization_id","session_id") REFERENCES "public"."sessions"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_mappings" ADD CONSTRAINT "session_mappings_session_fk" FOREIGN KEY ("organization_id","session_id") REFERENCES "public"."sessions"("organization_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "messages_session_idx" ON "messages" USING btree ("organization_id","session_id","seq");