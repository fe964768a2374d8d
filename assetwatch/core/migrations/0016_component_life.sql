-- Datasheet life of each component of an asset model: a Weibull law (shape, scale in days).
-- Master data, like the BOM: the failure models' priors and the renewal term of parts demand
-- read it; what the field shows can differ.
CREATE TABLE component_life (
    model_id         text NOT NULL REFERENCES asset_model ON DELETE CASCADE,
    component_type   text NOT NULL REFERENCES component_type,
    weibull_beta     double precision NOT NULL CHECK (weibull_beta > 0),
    weibull_eta_days double precision NOT NULL CHECK (weibull_eta_days > 0),
    PRIMARY KEY (model_id, component_type)
);
