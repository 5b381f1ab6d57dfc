CREATE TABLE "mcp_connections" (
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"provider" text NOT NULL,
	"name" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"transport" jsonb,
	"sealed_credentials" text NOT NULL,
	"credential_names" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mcp_connections" ADD CONSTRAINT "mcp_connections_organization_id_organizations_id_fk" FOREIGN KEY ("organization_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "mcp_connections_org_name_idx" ON "mcp_connections" USING btree ("organization_id","name");--> statement-breakpoint
CREATE INDEX "mcp_connections_org_enabled_idx" ON "mcp_connections" USING btree ("organization_id","enabled","created_at");