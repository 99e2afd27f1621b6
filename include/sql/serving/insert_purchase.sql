-- A purchase posted to the API: one order with one line at the product's price, as the export
-- reads them (a 'purchase' per order line). A client's retry (same client_event_id) inserts nothing.
WITH customer AS (SELECT customer_id FROM store.customers WHERE customer_id = %(user_id)s),
     product AS (SELECT product_id, price FROM store.products WHERE product_id = %(item_id)s),
     new_order AS (
        INSERT INTO store.orders
            (order_id, customer_id, ordered_at, client_event_id, session_id, recommendation_id)
        SELECT 'api-' || gen_random_uuid()::text, c.customer_id, %(occurred_at)s, %(client_event_id)s,
               %(session_id)s, %(recommendation_id)s
          FROM customer AS c, product
        ON CONFLICT (client_event_id) DO NOTHING
        RETURNING order_id
     ),
     line AS (
        INSERT INTO store.order_items (order_id, line_no, product_id, quantity, unit_price)
        SELECT o.order_id, 1, p.product_id, 1, p.price
          FROM new_order AS o, product AS p
        RETURNING order_id
     )
SELECT EXISTS (SELECT FROM customer), EXISTS (SELECT FROM product), EXISTS (SELECT FROM line)
