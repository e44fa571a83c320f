-- reason: one- and two-character searches on the web page (issue 17) read an index of every post's characters and pairs of neighbouring characters, kept by triggers in the writes' own transactions, instead of reading the whole course (about 900 ms at 1M questions)
--
-- The trigram index (0012) cannot match fewer than three characters. question_grams lists, for each post, every
-- character and every pair of neighbouring characters of its text, folded as LIKE folds (ASCII case, by
-- lower()), so a search of one or two characters finds exactly what `text LIKE '%q%'` finds. Each gram is
-- written as the hex of its UTF-8, which the ascii tokenizer takes as one token whatever the characters are
-- (CJK, punctuation, spaces, emoji): the query is that one token, MATCH '"<hex of lower(q)>"' (a single character
-- and a pair never share a hex string: UTF-8 is prefix-free). detail = none keeps only which posts hold a token,
-- no positions: a search needs no more, and the index is a fraction of the size.
--
-- The positions 0 … length-1 come from json_each over a JSON array of that many zeros (printf repeats 'x'),
-- because a trigger body cannot use WITH RECURSIVE and this SQLite has no generate_series. The text is folded
-- once per post (t.folded), not once per gram: about twice as fast. substr() walks the text from its start, so a
-- post of thousands of characters costs tens of milliseconds to index (measured in the commit that added this).
CREATE VIEW question_grams (id, grams) AS
SELECT q.id, (
    SELECT group_concat(hex(substr(t.folded, p.key + 1, 1)) || ' ' || hex(substr(t.folded, p.key + 1, 2)), ' ')
    FROM (SELECT lower(q.text) AS folded) AS t,
         json_each('[' || replace(printf('%.*c', length(t.folded), 'x'), 'x', '0,') || '0]') AS p
    WHERE p.key < length(t.folded)
) AS grams
FROM questions q;

-- Contentless: the grams are never read back, only matched. (An external-content table over the view cannot be
-- rebuilt by FTS5, which refuses virtual tables such as json_each in the statements it runs on content.)
CREATE VIRTUAL TABLE question_grams_fts USING fts5 (grams, content = '', tokenize = 'ascii', detail = none);
-- Filled once here, in the migration's transaction (see benchmarks/web.py for the time at 1M posts).
INSERT INTO question_grams_fts (rowid, grams) SELECT id, grams FROM question_grams;

-- The view reads the row as it is in the table, so the old grams go before a change and the new ones after it.
CREATE TRIGGER question_grams_insert AFTER INSERT ON questions BEGIN
    INSERT INTO question_grams_fts (rowid, grams) SELECT id, grams FROM question_grams WHERE id = new.id;
END;
CREATE TRIGGER question_grams_delete BEFORE DELETE ON questions BEGIN
    INSERT INTO question_grams_fts (question_grams_fts, rowid, grams)
    SELECT 'delete', id, grams FROM question_grams WHERE id = old.id;
END;
CREATE TRIGGER question_grams_update_before BEFORE UPDATE OF text ON questions BEGIN
    INSERT INTO question_grams_fts (question_grams_fts, rowid, grams)
    SELECT 'delete', id, grams FROM question_grams WHERE id = old.id;
END;
CREATE TRIGGER question_grams_update_after AFTER UPDATE OF text ON questions BEGIN
    INSERT INTO question_grams_fts (rowid, grams) SELECT id, grams FROM question_grams WHERE id = new.id;
END;
