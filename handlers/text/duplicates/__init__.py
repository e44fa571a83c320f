"""Near-duplicate questions (issue 12): normalisation, fingerprints and the decision, pure (no SQL, no platform).

The store keeps each question's :class:`Fingerprint`; candidates for a new question are the course's earlier
questions sharing a key, and :func:`best_match` picks the one it duplicates. See ``detect`` for the method and
why, ``features`` for what is compared, ``normalise`` for what is not.
"""

from handlers.text.duplicates.detect import (
    FINGERPRINT_VERSION,
    KEY_PAIRS,
    Fingerprint,
    best_match,
    fingerprint,
    same_question,
    similarity,
)
from handlers.text.duplicates.normalise import canonical, normalise

__all__ = [
    "FINGERPRINT_VERSION",
    "KEY_PAIRS",
    "Fingerprint",
    "best_match",
    "canonical",
    "fingerprint",
    "normalise",
    "same_question",
    "similarity",
]
