-- The read-only role of Grafana's datasource: SELECT on the v_* views and nothing else.
-- Views run with their owner's rights, so the role needs no right on any table.
-- Roles are cluster-wide: creating it is idempotent and tolerates a concurrent creator.
-- The role is NOLOGIN here; a deployment gives it LOGIN and a password
-- (`assetwatch dashboards reader-login`), so no password lives in the schema.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'assetwatch_reader') THEN
        CREATE ROLE assetwatch_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- Grant SELECT on every v_* view (and continuous aggregate) of the public schema, now.
CREATE OR REPLACE FUNCTION assetwatch_grant_reader() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    rel record;
    granted integer := 0;
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO assetwatch_reader', current_database());
    GRANT USAGE ON SCHEMA public TO assetwatch_reader;
    FOR rel IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm') AND c.relname LIKE 'v\_%'
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO assetwatch_reader', rel.relname);
        granted := granted + 1;
    END LOOP;
    RETURN granted;
END
$$;
REVOKE ALL ON FUNCTION assetwatch_grant_reader() FROM PUBLIC;

-- Views created by later migrations are granted as they are created, where we may install an
-- event trigger (superuser); elsewhere run `SELECT assetwatch_grant_reader()` after migrating.
CREATE OR REPLACE FUNCTION assetwatch_grant_reader_on_create() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    obj record;
BEGIN
    FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands()
               WHERE object_type IN ('view', 'materialized view')
    LOOP
        IF obj.schema_name = 'public' AND obj.object_identity LIKE 'public.v\_%' THEN
            EXECUTE format('GRANT SELECT ON %s TO assetwatch_reader', obj.object_identity);
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        DROP EVENT TRIGGER IF EXISTS assetwatch_grant_reader;
        CREATE EVENT TRIGGER assetwatch_grant_reader ON ddl_command_end
            WHEN TAG IN ('CREATE VIEW', 'CREATE MATERIALIZED VIEW')
            EXECUTE FUNCTION assetwatch_grant_reader_on_create();
    END IF;
END
$$;

SELECT assetwatch_grant_reader();
