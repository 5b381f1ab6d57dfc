-- Whether an organization has queued runs, asked after a run ends. It first waits for the
-- organization's admissions in flight (they hold its advisory lock until they commit), so a run
-- queued while the ending one still counted as running is seen, and started, at once.
CREATE OR REPLACE FUNCTION "nubabel_runs_queued"(p_organization_id text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('runs:' || p_organization_id));
	RETURN EXISTS (SELECT 1 FROM "runs" WHERE "organization_id" = p_organization_id AND "status" = 'queued');
END
$$;
