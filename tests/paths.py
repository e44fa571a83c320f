from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A copy of shared/samples/course-page-lesson-00.txt, so the suite runs from any clone.
SAMPLE_PAGE = ROOT / "tests" / "data" / "course-page-lesson-00.txt"
