-- What the application calls: recommendations for one customer, with a fallback for cold start.
CREATE OR REPLACE FUNCTION {function}(p_user_id text, p_limit int DEFAULT 25)
RETURNS TABLE (rank int, item_id text, score double precision, source text)
LANGUAGE sql STABLE PARALLEL SAFE
AS {body}
