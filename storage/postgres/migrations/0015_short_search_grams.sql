-- reason: one- and two-character searches on the web page (issue 17) read an index of every question's characters and pairs of neighbouring characters instead of reading the whole course
--
-- As storage/migrations/0015 on SQLite, where an FTS5 table holds the grams. pg_trgm cannot match fewer than
-- three characters, so here a GIN index over an expression does it: text_grams() lists every character and every
-- pair of neighbouring characters of the lower-cased text, and a search of one or two characters asks for
-- `text_grams(text) @> ARRAY[lower(q)]` (then checks `text ILIKE '%q%'`, as the longer searches do). The index is
-- kept by PostgreSQL itself in the writing transaction; no trigger is needed.
CREATE FUNCTION text_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(DISTINCT g), '{}') FROM (
        SELECT substr(f, i, 1) AS g FROM (SELECT lower(t) AS f) s, generate_series(1, length(f)) i
        UNION ALL
        SELECT substr(f, i, 2) FROM (SELECT lower(t) AS f) s, generate_series(1, length(f) - 1) i
    ) grams
$$;
CREATE INDEX questions_text_grams ON questions USING gin (text_grams(text));
