from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A copy of shared/samples/course-page-lesson-00.txt, so the suite runs from any clone.
SAMPLE_PAGE = ROOT / "tests" / "data" / "course-page-lesson-00.txt"


def write(path: Path, text: str) -> Path:
    """A UTF-8 text file at ``path``, its folders made as needed (lesson files, pages, settings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
