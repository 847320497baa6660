-- The demo ERP: items, stock per location, prices, sales orders, shipments, and the transactional outbox that
-- Tradewind's bridge reads. Triggers write an outbox row in the same transaction as every change, so an event is
-- published if and only if the change committed. Idempotent: safe to run on every start.

CREATE TABLE IF NOT EXISTS items (
    sku   text PRIMARY KEY,
    title text NOT NULL
);

CREATE TABLE IF NOT EXISTS stock (
    sku      text   NOT NULL REFERENCES items,
    location text   NOT NULL,
    on_hand  bigint NOT NULL CHECK (on_hand >= 0),
    reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (sku, location)
);

CREATE TABLE IF NOT EXISTS prices (
    sku      text          PRIMARY KEY REFERENCES items,
    amount   numeric(12,2) NOT NULL CHECK (amount >= 0),
    currency char(3)       NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS sales_order_numbers START 1001;

-- The ERP honours the idempotency key, and nothing else: a second creation of one channel order under another
-- key is a second sales order, as in an ERP that follows only the contract of docs/erp.md (the consistency
-- check reports it as a duplicate).
CREATE TABLE IF NOT EXISTS sales_orders (
    id               bigserial   PRIMARY KEY,
    number           text        NOT NULL UNIQUE,
    -- The key the order was created with; a retry with it returns the same number.
    idempotency_key  text        NOT NULL UNIQUE,
    marketplace      text        NOT NULL,
    channel_order_id text        NOT NULL,
    correlation_id   text        NOT NULL,
    status           text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'shipped', 'cancelled')),
    body             jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    posts            integer     NOT NULL DEFAULT 1
);
-- Databases made by an earlier version kept a channel order unique; the contract does not.
ALTER TABLE sales_orders DROP CONSTRAINT IF EXISTS sales_orders_marketplace_channel_order_id_key;
CREATE INDEX IF NOT EXISTS sales_orders_channel_order ON sales_orders (marketplace, channel_order_id);

CREATE TABLE IF NOT EXISTS sales_order_lines (
    sales_order_id bigint NOT NULL REFERENCES sales_orders,
    line_id        text   NOT NULL,
    sku            text   NOT NULL,
    quantity       bigint NOT NULL CHECK (quantity > 0),
    location       text,
    PRIMARY KEY (sales_order_id, line_id)
);

CREATE TABLE IF NOT EXISTS shipments (
    id              bigserial   PRIMARY KEY,
    sales_order_id  bigint      NOT NULL REFERENCES sales_orders,
    shipment_id     text        NOT NULL UNIQUE,
    carrier         text        NOT NULL,
    tracking_number text        NOT NULL,
    shipped_at      timestamptz NOT NULL DEFAULT now()
);

-- Updates and cancellations of sales orders, one row per idempotency key: a repeat answers what the first did.
-- A cancellation of an order the ERP does not hold yet is kept (sales_order_id NULL) and applies to the order
-- when it is created.
CREATE TABLE IF NOT EXISTS order_changes (
    id               bigserial   PRIMARY KEY,
    idempotency_key  text        NOT NULL UNIQUE,
    kind             text        NOT NULL CHECK (kind IN ('update', 'cancel')),
    marketplace      text        NOT NULL,
    channel_order_id text        NOT NULL,
    whole_order      boolean     NOT NULL DEFAULT true,
    sales_order_id   bigint      REFERENCES sales_orders,
    body             jsonb       NOT NULL,
    posts            integer     NOT NULL DEFAULT 1,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_changes_channel_order ON order_changes (marketplace, channel_order_id);

-- Every request the API received, with what it did: tests and the consistency check read what the ERP was sent.
CREATE TABLE IF NOT EXISTS requests (
    id              bigserial   PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    method          text        NOT NULL,
    path            text        NOT NULL,
    idempotency_key text,
    body            jsonb,
    status          integer     NOT NULL,
    outcome         text        NOT NULL
);

-- Returns and settlements posted by the bridge: one row per idempotency key; a repeat answers the same id.
CREATE TABLE IF NOT EXISTS channel_documents (
    id              bigserial   PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('return', 'settlement')),
    idempotency_key text        NOT NULL UNIQUE,
    marketplace     text        NOT NULL,
    document_id     text        NOT NULL,   -- the channel's return or settlement id
    body            jsonb       NOT NULL,
    posts           integer     NOT NULL DEFAULT 1,
    received_at     timestamptz NOT NULL DEFAULT now()
);

-- The outbox (documented in docs/erp.md): one row per event, `payload` a canonical record
-- ({"type": ..., "data": ...}), `sent_at` set by the bridge once JetStream has it.
CREATE TABLE IF NOT EXISTS tradewind_outbox (
    id         bigserial   PRIMARY KEY,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX IF NOT EXISTS tradewind_outbox_unsent ON tradewind_outbox (id) WHERE sent_at IS NULL;

CREATE OR REPLACE FUNCTION tw_utc(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE OR REPLACE FUNCTION tw_stock_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_sku text := COALESCE(NEW.sku, OLD.sku);
BEGIN
    INSERT INTO tradewind_outbox (kind, key, payload)
    SELECT 'inventory', changed_sku, jsonb_build_object(
        'type', 'inventory',
        'data', jsonb_build_object(
            'correlationId', 'demo-erp:inventory:' || changed_sku || ':' || txid_current(),
            'sku', changed_sku,
            'available', COALESCE(sum(GREATEST(s.on_hand - s.reserved, 0)), 0),
            'locations', COALESCE(jsonb_agg(jsonb_build_object(
                'location', s.location,
                'available', GREATEST(s.on_hand - s.reserved, 0)) ORDER BY s.location), '[]'::jsonb),
            'asOf', tw_utc(clock_timestamp())))
    FROM stock s WHERE s.sku = changed_sku;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tw_price_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tradewind_outbox (kind, key, payload)
    VALUES ('price', NEW.sku, jsonb_build_object(
        'type', 'price',
        'data', jsonb_build_object(
            'correlationId', 'demo-erp:price:' || NEW.sku || ':' || txid_current(),
            'sku', NEW.sku,
            'price', jsonb_build_object('amount', NEW.amount::text, 'currency', NEW.currency),
            'asOf', tw_utc(clock_timestamp()))));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tw_shipment_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tradewind_outbox (kind, key, payload)
    SELECT 'shipment', o.marketplace || '/' || o.channel_order_id, jsonb_build_object(
        'type', 'shipment',
        'data', jsonb_build_object(
            'correlationId', o.correlation_id,
            'marketplace', o.marketplace,
            'orderId', o.channel_order_id,
            'shipmentId', NEW.shipment_id,
            'carrier', NEW.carrier,
            'trackingNumber', NEW.tracking_number,
            'shippedAt', tw_utc(NEW.shipped_at),
            'lines', (SELECT jsonb_agg(jsonb_build_object(
                        'lineId', l.line_id, 'sku', l.sku, 'quantity', l.quantity) ORDER BY l.line_id)
                      FROM sales_order_lines l WHERE l.sales_order_id = o.id)))
    FROM sales_orders o WHERE o.id = NEW.sales_order_id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tw_stock_outbox ON stock;
CREATE TRIGGER tw_stock_outbox AFTER INSERT OR UPDATE OR DELETE ON stock
    FOR EACH ROW EXECUTE FUNCTION tw_stock_changed();
DROP TRIGGER IF EXISTS tw_price_outbox ON prices;
CREATE TRIGGER tw_price_outbox AFTER INSERT OR UPDATE ON prices
    FOR EACH ROW EXECUTE FUNCTION tw_price_changed();
DROP TRIGGER IF EXISTS tw_shipment_outbox ON shipments;
CREATE TRIGGER tw_shipment_outbox AFTER INSERT ON shipments
    FOR EACH ROW EXECUTE FUNCTION tw_shipment_created();

-- Wakes a listening bridge as soon as a transaction that wrote outbox rows commits (NOTIFY is delivered on
-- commit, once per channel and transaction), so it need not wait for its poll interval.
CREATE OR REPLACE FUNCTION tw_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tradewind_outbox', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS tw_outbox_notify ON tradewind_outbox;
CREATE TRIGGER tw_outbox_notify AFTER INSERT ON tradewind_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION tw_outbox_notify();
