"""Where lessons come from, besides a person typing ``studybot lesson add``.

* :mod:`bot.sources.course_page` — course-page exports: the intro, then a "精选留言（N）" list of featured
  comments, imported as the lesson's questions and comments;
* :mod:`bot.sources.files` — one reader for every file format (Markdown, text, course pages) and the import
  of a file into the store (used by the CLI and by the ``LESSONS_DIR`` scan);
* :mod:`bot.sources.feeds` — RSS 2.0 and Atom feeds, polled with conditional requests;
* :mod:`bot.sources.runner` — the scheduler's duty that scans ``LESSONS_DIR`` and polls ``FEEDS`` when due.
"""
