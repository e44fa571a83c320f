"""The core's vocabulary: what everything else talks in.

Domain types (courses, lessons, groups, questions), the events that come in (``events``), the actions that go
out (``actions``), the errors handlers raise for the user (``errors``), rich text (``content``), the types of
imported lessons (``imported``), the command catalogue (``catalogue``) and the digest chart's data (``charts``).
Nothing here does work; every other part of the house may import it.
"""
