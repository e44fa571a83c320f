"""The course's questions on a web page (issue 17): aiohttp.web with Jinja2 templates, no JavaScript build step.

Imported only by ``studybot web`` and ``studybot run --web``, so quick commands never load aiohttp.web or Jinja2.
"""
