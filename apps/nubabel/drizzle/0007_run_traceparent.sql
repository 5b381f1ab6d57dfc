ALTER TABLE "runs" ADD COLUMN "traceparent" text;--> statement-breakpoint
-- Admission (drizzle/0004_admit_run.sql) now stores the trace context the run was accepted in.
-- The old signature goes: one definition of the rule, the one src/adapters/postgres/run-store.ts calls.
DROP FUNCTION IF EXISTS "nubabel_admit_run"(text, text, text, text, text, text, jsonb, jsonb, timestamptz, int, int);--> statement-breakpoint
CREATE OR REPLACE FUNCTION "nubabel_admit_run"(
	p_id text, p_organization_id text, p_session_id text, p_user_id text, p_prompt text,
	p_category text, p_skills jsonb, p_origin jsonb, p_now timestamptz, p_max_running int, p_max_queued int,
	p_traceparent text
) RETURNS TABLE ("status" text, "new_session" boolean) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_running int;
	v_queued int;
	v_status text;
	v_created int;
BEGIN
	INSERT INTO "sessions" ("id", "organization_id", "user_id", "state", "created_at", "updated_at")
	VALUES (p_session_id, p_organization_id, p_user_id, '{"opencodeSessionId": null, "status": "created"}'::jsonb, p_now, p_now)
	ON CONFLICT ("organization_id", "id") DO NOTHING;
	GET DIAGNOSTICS v_created = ROW_COUNT;
	PERFORM pg_advisory_xact_lock(hashtext('runs:' || p_organization_id));
	SELECT count(*) FILTER (WHERE "status" = 'running'), count(*) FILTER (WHERE "status" = 'queued')
	INTO v_running, v_queued
	FROM "runs" WHERE "organization_id" = p_organization_id AND "status" IN ('queued', 'running');
	IF v_running + v_queued >= p_max_running + p_max_queued THEN
		RETURN QUERY SELECT NULL::text, v_created > 0;
		RETURN;
	END IF;
	IF v_running < p_max_running AND v_queued = 0 AND NOT EXISTS (
		SELECT 1 FROM "runs" WHERE "organization_id" = p_organization_id AND "session_id" = p_session_id AND "status" = 'running'
	) THEN
		v_status := 'running';
	ELSE
		v_status := 'queued';
	END IF;
	INSERT INTO "runs" ("id", "organization_id", "session_id", "status", "prompt", "user_id", "category", "skills", "origin",
		"created_at", "started_at", "checked_at", "traceparent")
	VALUES (p_id, p_organization_id, p_session_id, v_status, p_prompt, p_user_id, p_category, p_skills, p_origin,
		p_now, CASE WHEN v_status = 'running' THEN p_now END, CASE WHEN v_status = 'running' THEN p_now END, p_traceparent);
	RETURN QUERY SELECT v_status, v_created > 0;
END
$$;
