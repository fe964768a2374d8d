-- Operating regimes per asset model: the sensors that say how an asset is run (load, speed,
-- altitude, ...) and how many regimes they form. Training clusters the signals into that many
-- regimes and normalises every other sensor per regime before computing features
-- (assetwatch.models.prediction.regimes); one regime is a plain normalisation per model.
CREATE TABLE asset_model_regime (
    model_id       text PRIMARY KEY REFERENCES asset_model (model_id) ON DELETE CASCADE,
    signals        text[] NOT NULL CHECK (cardinality(signals) > 0),
    regimes        integer NOT NULL CHECK (regimes >= 1)
);

CREATE VIEW v_asset_model_regime AS
SELECT model_id, signals, regimes FROM asset_model_regime;
