-- A browsing event posted to the API, appended to the store's events (what the export and event
-- sync read). A client's retry (same client_event_id) inserts nothing. The flags say which of
-- customer and product exist, so the API can name the unknown one.
WITH customer AS (SELECT customer_id FROM store.customers WHERE customer_id = %(user_id)s),
     product AS (SELECT product_id FROM store.products WHERE product_id = %(item_id)s),
     inserted AS (
        INSERT INTO store.events
            (event_id, customer_id, product_id, event_type, occurred_at, client_event_id, session_id,
             recommendation_id)
        SELECT nextval('store.events_event_id_seq'), c.customer_id, p.product_id, %(event_type)s,
               %(occurred_at)s, %(client_event_id)s, %(session_id)s, %(recommendation_id)s
          FROM customer AS c, product AS p
        ON CONFLICT (client_event_id) DO NOTHING
        RETURNING event_id
     )
SELECT EXISTS (SELECT FROM customer), EXISTS (SELECT FROM product), EXISTS (SELECT FROM inserted)
