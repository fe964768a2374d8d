-- Stock levels that master data gives for every site (site_id '*'): kept, and applied to a
-- site when it is registered after the master data was loaded.
CREATE TABLE stock_default (
    part_no        text PRIMARY KEY REFERENCES part ON DELETE CASCADE,
    on_hand        integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    on_order       integer NOT NULL DEFAULT 0 CHECK (on_order >= 0)
);

CREATE FUNCTION stock_defaults_for_new_site() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stock (part_no, site_id, on_hand, on_order)
    SELECT d.part_no, NEW.site_id, d.on_hand, d.on_order FROM stock_default d
    ON CONFLICT (part_no, site_id) DO NOTHING;
    RETURN NEW;
END;
$$;

CREATE TRIGGER site_stock_defaults AFTER INSERT ON site
    FOR EACH ROW EXECUTE FUNCTION stock_defaults_for_new_site();
