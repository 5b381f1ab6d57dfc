CREATE TABLE "budgets" (
	"organization_id" text PRIMARY KEY NOT NULL,
	"monthly_cost" double precision,
	"monthly_tokens" bigint,
	"warn_at_percent" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "budgets" ADD CONSTRAINT "budgets_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "runs_org_finished_idx" ON "runs" USING btree ("organization_id","finished_at");