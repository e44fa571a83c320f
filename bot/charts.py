"""Draws the digest's :class:`~handlers.vocabulary.charts.DigestChart` as a PNG a phone shows well.

matplotlib with its Agg rasteriser, used through :class:`~matplotlib.figure.Figure` and ``FigureCanvasAgg`` rather
than ``pyplot``: pyplot keeps a global registry of open figures and a global backend, which a long-running bot
drawing one chart a week has no use for. Each figure here is a plain object, dropped when the PNG is written.

matplotlib is imported inside the functions, never at module level: importing it takes a second or two, and the
quick command lines (``studybot --help``, ``digest --dry-run``) must not pay for it (``tests/bot/test_cli.py``).

Chinese text needs a CJK font, which matplotlib does not ship. The project installs Debian's
``fonts-wqy-microhei`` (WenQuanYi Micro Hei: 1.6 MB to download, 5 MB installed, every CJK Unified Ideograph plus
Latin; Noto Sans CJK is 57 MB and 91 MB) from ``.ci/run`` and README's test command. The font is found by its
family name through matplotlib's font manager and then used by file, with no fallback: a character it lacks
would otherwise be drawn as an empty box with only a warning, so :class:`ChartFont` checks every label against
the font's character map first and raises :class:`MissingGlyphs`, naming the characters and the labels.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.i18n import Translator
from handlers.vocabulary.charts import ChartLabels, DigestChart, chart_labels

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

logger = logging.getLogger(__name__)

CJK_FONT_FAMILY = "WenQuanYi Micro Hei"
CJK_FONT_PACKAGE = "fonts-wqy-microhei"

# 1080 px wide, the width Telegram and Discord keep for a photo, in a 4:5 frame that fills a phone's screen.
WIDTH_PX, HEIGHT_PX, DPI = 1080, 1350, 100
TITLE_PT, LABEL_PT, TICK_PT, VALUE_PT = 30, 22, 20, 18
LESSON_NAME_COLUMNS = 44  # a CJK character is two columns: at most 22 of them, or 44 Latin letters
MIN_LESSON_ROWS = 4
MAX_DAY_TICKS = 10  # more days than this are labelled every few days
MAX_VALUE_LABELS = 14  # more days than this and the numbers over the bars would collide
# Okabe–Ito blue and vermillion: told apart with any colour vision and in greyscale, dark enough on white.
QUESTION_COLOUR, LIKE_COLOUR, TEXT_COLOUR, GRID_COLOUR = "#0072B2", "#D55E00", "#000000", "#BBBBBB"


class ChartFontMissing(RuntimeError):
    """The chart's font is not installed on this machine."""


class MissingGlyphs(ValueError):
    """A label has characters the chart's font cannot draw; raised before anything is drawn."""

    def __init__(self, font: ChartFont, characters: str, labels: Sequence[str]) -> None:
        self.font, self.characters, self.labels = font, characters, tuple(labels)
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in characters)
        super().__init__(
            f"the chart font {font.family} ({font.path}) has no glyph for {shown}, used in {list(self.labels)!r}"
        )


@dataclass(frozen=True, slots=True)
class ChartFont:
    """A font file the chart is drawn with, and the characters it can draw."""

    family: str
    path: Path
    codepoints: frozenset[int]

    def missing(self, text: str) -> str:
        """The characters of ``text`` the font lacks, each once, in order (line breaks are layout, not glyphs)."""
        return "".join(dict.fromkeys(c for c in text if c != "\n" and ord(c) not in self.codepoints))

    def require(self, texts: Iterable[str]) -> None:
        """Raise :class:`MissingGlyphs` unless the font has every character of every text."""
        texts = tuple(dict.fromkeys(texts))
        lacking = "".join(dict.fromkeys("".join(self.missing(text) for text in texts)))
        if lacking:
            raise MissingGlyphs(self, lacking, [text for text in texts if self.missing(text)])


def find_font(family: str = CJK_FONT_FAMILY, package: str = CJK_FONT_PACKAGE) -> ChartFont:
    """The installed font of ``family``, located by matplotlib's font manager, with its character map.

    matplotlib keeps its list of the machine's fonts in a cache built the first time it runs; a font installed
    after that is not in it. So on a miss a new :class:`~matplotlib.font_manager.FontManager` scans the system
    once more (a few seconds), without replacing the shared one, before giving up with the package to install.
    """
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # fontTools ships no type hints
    from matplotlib import font_manager

    entry = _first_face(font_manager.fontManager.ttflist, family)
    if entry is None:
        logger.info("font %s is not in matplotlib's cached font list; scanning the system's fonts", family)
        entry = _first_face(font_manager.FontManager().ttflist, family)
    if entry is None:
        raise ChartFontMissing(
            f"the digest chart needs the font {family!r}, which is not installed: on Debian or Ubuntu run "
            f"`apt-get install -y --no-install-recommends {package}` (scripts/install-system-packages does)"
        )
    index = int(getattr(entry, "index", 0))
    if index:
        # FontProperties(fname=...) draws a collection's first face only.
        raise ChartFontMissing(f"font {family!r} is face {index} of {entry.fname}; only a first face can be drawn")
    with TTFont(entry.fname, fontNumber=index, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return ChartFont(family, Path(entry.fname), frozenset(cmap))


def _first_face(entries: Iterable[Any], family: str) -> Any:
    matches = [entry for entry in entries if entry.name == family]
    regular = [entry for entry in matches if entry.style == "normal" and entry.weight in (400, "normal", "regular")]
    return (regular or matches or [None])[0]


def shorten(text: str, columns: int = LESSON_NAME_COLUMNS) -> str:
    """``text`` on one line, cut with an ellipsis to ``columns`` display columns (wide CJK characters take two)."""
    text = " ".join(text.split())
    if _columns(text) <= columns:
        return text
    kept, used = [], 1  # the ellipsis takes one column
    for char in text:
        used += _columns(char)
        if used > columns:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class ChartRenderer:
    """Turns a :class:`DigestChart` into PNG bytes in a course's language; built once, at wiring time.

    The font is looked up when the renderer is built, so a machine without it fails at start-up with the
    package to install rather than in the middle of sending a digest.
    """

    def __init__(self, i18n: Translator, font: ChartFont | None = None) -> None:
        self._i18n = i18n
        self.font = font or find_font()

    def render_png(self, chart: DigestChart, language: str) -> bytes:
        """The chart as a ``WIDTH_PX`` × ``HEIGHT_PX`` PNG; :class:`MissingGlyphs` if a label cannot be drawn.

        Drawing is CPU work of about half a second: call it through ``asyncio.to_thread`` from the event loop.
        """
        figure = self.draw(chart, language)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
        return out.getvalue()

    def draw(self, chart: DigestChart, language: str) -> Figure:
        """The chart as a matplotlib figure (what :meth:`render_png` writes out; tests look inside it).

        The layout is fixed rather than computed (matplotlib's constrained layout draws everything twice to
        measure it, which doubled the rendering time): title and legend on top, the days below them, then the
        lessons, each lesson's name on its own line above its bars so that a long title gets the full width.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        labels = chart_labels(self._i18n, language, chart)
        labels = replace(labels, lesson_names=tuple(shorten(self.drawable(name)) for name in labels.lesson_names))
        names = list(labels.lesson_names)
        self.font.require([*labels.all_texts(), "0123456789"])  # the digits: the axes' and bars' numbers
        figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(figure)
        figure.text(
            0.5, 0.985, f"{labels.title}\n{labels.period}", ha="center", va="top", linespacing=1.3,
            fontproperties=self._font(TITLE_PT), color=TEXT_COLOUR, parse_math=False,
        )  # fmt: skip
        by_day = figure.add_axes((0.11, 0.53, 0.86, 0.335))
        bars = self._draw_days(by_day, chart, labels)
        figure.legend(
            [bar.patches[0] for bar in bars], [labels.questions, labels.likes], loc="upper center",
            bbox_to_anchor=(0.5, 0.905), ncols=2, frameon=False, prop=self._font(LABEL_PT), handlelength=1.2,
            columnspacing=2.5,
        )  # fmt: skip
        figure.text(
            0.03, 0.405, labels.by_lesson, ha="left", va="bottom", fontproperties=self._font(LABEL_PT + 2),
            color=TEXT_COLOUR, parse_math=False,
        )  # fmt: skip
        by_lesson = figure.add_axes((0.03, 0.065, 0.86, 0.33))
        self._draw_lessons(by_lesson, chart, labels, names)
        return figure

    def drawable(self, name: str) -> str:
        """A lesson title without the characters the font cannot draw (an emoji, say), so that a title never
        costs the digest its chart. Only lesson titles, which users write, are cleaned; the catalog's words
        must all be drawable, and a glyph missing there still raises :class:`MissingGlyphs`."""
        lacking = self.font.missing(name)
        if not lacking:
            return name
        logger.debug("chart: dropped %r from lesson title %r (not in font %s)", lacking, name, self.font.family)
        kept = "".join(c for c in name if c not in lacking)
        return " ".join(kept.split()) or "?"

    def _font(self, size: float) -> FontProperties:
        from matplotlib.font_manager import FontProperties

        return FontProperties(fname=self.font.path, size=size)

    def _draw_days(self, axes: Axes, chart: DigestChart, labels: ChartLabels) -> list[BarContainer]:
        count = len(chart.days)
        positions = range(count)
        questions = [day.questions for day in chart.days]
        likes = [day.likes for day in chart.days]
        bars = [
            axes.bar([p - 0.2 for p in positions], questions, 0.4, color=QUESTION_COLOUR),
            axes.bar([p + 0.2 for p in positions], likes, 0.4, color=LIKE_COLOUR),
        ]
        step = math.ceil(count / MAX_DAY_TICKS)
        shown = list(positions)[::step]
        axes.set_xticks(shown, [labels.day_ticks[p] for p in shown], fontproperties=self._font(TICK_PT))
        axes.set_xlim(-0.6, count - 0.4)
        self._count_axis(axes, "y", max(*questions, *likes))
        axes.set_xlabel(labels.day_axis, fontproperties=self._font(LABEL_PT), parse_math=False)
        axes.set_ylabel(labels.count_axis, fontproperties=self._font(LABEL_PT), parse_math=False)
        if count <= MAX_VALUE_LABELS:
            for container in bars:
                axes.bar_label(container, _values(container.datavalues), fontproperties=self._font(VALUE_PT))
        self._style(axes)
        return bars

    def _draw_lessons(self, axes: Axes, chart: DigestChart, labels: ChartLabels, names: list[str]) -> None:
        """One row per lesson, the name on top of the row, questions and likes below it; at least
        ``MIN_LESSON_ROWS`` rows, so that one lesson alone is not drawn as two thick slabs."""
        rows = range(len(names))
        questions = [lesson.questions for lesson in chart.lessons]
        likes = [lesson.likes for lesson in chart.lessons]
        slots = max(len(names), MIN_LESSON_ROWS)
        axes.set_ylim(slots - 0.5, -0.5)  # row 0 on top
        axes.set_yticks([])
        axes.spines["left"].set_visible(False)
        if not names:
            axes.set_xticks([])
            return
        # The bars hang right under the name, whose height in row units depends on how tall a row is.
        row_px = axes.get_position().height * HEIGHT_PX / slots
        first = -0.47 + 1.3 * TICK_PT * DPI / 72 / row_px + 0.13
        bars = [
            axes.barh([r + first for r in rows], questions, 0.22, color=QUESTION_COLOUR),
            axes.barh([r + first + 0.23 for r in rows], likes, 0.22, color=LIKE_COLOUR),
        ]
        for row, name in zip(rows, names, strict=True):
            axes.text(
                0, row - 0.47, name, ha="left", va="top", fontproperties=self._font(TICK_PT), color=TEXT_COLOUR,
                parse_math=False,
            )  # fmt: skip
        self._count_axis(axes, "x", max(*questions, *likes))
        axes.set_xlabel(labels.count_axis, fontproperties=self._font(LABEL_PT), parse_math=False)
        for container in bars:
            axes.bar_label(container, _values(container.datavalues), padding=4, fontproperties=self._font(VALUE_PT - 2))
        self._style(axes)

    def _count_axis(self, axes: Axes, which: str, highest: int) -> None:
        """Whole-number ticks with room past the longest bar for its number, labelled in the chart's font."""
        from matplotlib.ticker import MaxNLocator

        top = max(highest, 1) * 1.15
        ticks = [t for t in MaxNLocator(nbins=5, integer=True).tick_values(0, top) if 0 <= t <= top]
        texts = [str(int(t)) for t in ticks]
        if which == "y":
            axes.set_ylim(0, top)
            axes.set_yticks(ticks, texts, fontproperties=self._font(TICK_PT))
            axes.grid(axis="y", color=GRID_COLOUR, linewidth=1)
        else:
            axes.set_xlim(0, top)
            axes.set_xticks(ticks, texts, fontproperties=self._font(TICK_PT))
            axes.grid(axis="x", color=GRID_COLOUR, linewidth=1)
        axes.set_axisbelow(True)

    @staticmethod
    def _style(axes: Axes) -> None:
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.tick_params(colors=TEXT_COLOUR, length=0)


def _values(values: Any) -> list[str]:
    """The numbers over the bars; none over an empty bar, where a 0 would only add noise."""
    return [str(int(v)) if v else "" for v in values]


class ChartDrawer:
    """Draws an action's chart once, off the event loop, for whichever backend sends it.

    A digest goes to every instructor, often on two platforms: the PNG is drawn once and kept for the next
    recipient (the last few charts, keyed by their data and language). The renderer (and its font lookup) is
    made on first use; a machine without the font, or a chart that cannot be drawn, is logged and the digest
    goes out without its picture rather than not at all.
    """

    KEEP = 4

    def __init__(self, i18n: Translator, font: ChartFont | None = None) -> None:
        self._i18n, self._font = i18n, font
        self._renderer: ChartRenderer | None = None
        self._unavailable = False
        self._drawn: dict[tuple[DigestChart, str], bytes] = {}

    def _get_renderer(self) -> ChartRenderer | None:
        if self._renderer is None and not self._unavailable:
            try:
                self._renderer = ChartRenderer(self._i18n, self._font)
            except ChartFontMissing:
                logger.exception("digest charts are not drawn on this machine")
                self._unavailable = True
        return self._renderer

    async def png(self, chart: DigestChart, language: str) -> bytes | None:
        key = (chart, language)
        if key in self._drawn:
            return self._drawn[key]
        renderer = await asyncio.to_thread(self._get_renderer)
        if renderer is None:
            return None
        try:
            png = await asyncio.to_thread(renderer.render_png, chart, language)
        except Exception:  # a picture is not worth the digest: send the text
            logger.exception("the digest chart could not be drawn; sending the digest without it")
            return None
        while len(self._drawn) >= self.KEEP:
            self._drawn.pop(next(iter(self._drawn)))
        self._drawn[key] = png
        return png
