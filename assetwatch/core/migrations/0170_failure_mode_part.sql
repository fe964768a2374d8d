-- The parts a repair of one failure mode on one asset model needs: a ticket's kit is its
-- component's bill of materials plus the parts of its diagnosed failure mode (a motor whose
-- cooling fails needs an air filter, not a new motor winding).
CREATE TABLE failure_mode_part (
    model_id      text NOT NULL REFERENCES asset_model ON DELETE CASCADE,
    failure_mode  text NOT NULL REFERENCES failure_mode ON DELETE CASCADE,
    part_no       text NOT NULL REFERENCES part,
    qty           integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (model_id, failure_mode, part_no)
);
