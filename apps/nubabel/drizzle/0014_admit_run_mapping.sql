-- Admission (drizzle/0007_run_traceparent.sql) also returns, for a run that starts at once, the
-- session's mapping as it stands after the organization's lock: the hand-over then goes where the
-- database says, with no cache read that a move just before could have made stale. A new name, so
-- instances still on the previous version keep calling "nubabel_admit_run" (their prepared
-- statements would fail on a changed result type); a later migration drops it.
CREATE OR REPLACE FUNCTION "nubabel_admit_run_mapped"(
	p_id text, p_organization_id text, p_session_id text, p_user_id text, p_prompt text,
	p_category text, p_skills jsonb, p_origin jsonb, p_now timestamptz, p_max_running int, p_max_queued int,
	p_traceparent text
) RETURNS TABLE ("status" text, "new_session" boolean, "opencode_session_id" text, "sidecar_url" text) LANGUAGE plpgsql AS $$
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
		RETURN QUERY SELECT NULL::text, v_created > 0, NULL::text, NULL::text;
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
	-- Read after the session's earlier runs were seen ended (each statement sees what was committed
	-- before it): a move made by the run before this one is in it. Only for a run that starts now;
	-- a queued one reads its mapping when it starts.
	RETURN QUERY SELECT v_status, v_created > 0, m."opencode_session_id", m."sidecar_url"
	FROM (SELECT 1) AS one
	LEFT JOIN "session_mappings" m ON v_status = 'running' AND v_created = 0
		AND m."organization_id" = p_organization_id AND m."session_id" = p_session_id;
END
$$;
