"""Print letters: HTML in, PDF bytes out (WeasyPrint), with a Chinese font and nothing fetched.

The letters carry employers' names and addresses, which are data from outside. Jinja escapes them,
and the printer is the second wall: its URL fetcher reads only files inside the letters' assets
folder (the stylesheet) and ``data:`` images (the QR code), never ``file://`` elsewhere or the
network, and no printed PDF carries an attachment.

A letter printed without a CJK font looks right to text extraction (the characters are there) but
shows empty boxes on paper. So the app asks fontconfig for a Chinese font before printing
(``require_cjk_font``) and can check a printed PDF's font list (``has_cjk_font``).

Font choice, measured on the reminder letter: AR PL UMing CN, a Song/Ming serif as official letters
use, in one weight, with Liberation Serif for Latin letters and figures: ~90 KB and ~90 ms a letter
(Noto Serif CJK: ~350 KB, ~165 ms). WenQuanYi Zen Hei stands in for the rare characters UMing lacks
(it has every BMP hanzi of GB 18030); without it they would print as boxes.
"""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urljoin, urlsplit

from pypdf import PdfReader
from pypdf.generic import DictionaryObject, IndirectObject
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse, path2url

#: The stylesheet every letter links (templates/letters/letter.css).
STYLESHEET = "letter.css"

#: What setup installs; named in the message when no Chinese font is found.
CJK_FONT_PACKAGES = "fonts-arphic-uming fonts-wqy-zenhei"

#: Families the stylesheet asks for, in order of preference.
PREFERRED_CJK_FAMILIES = ("AR PL UMing CN", "WenQuanYi Zen Hei", "Noto Serif CJK SC")

#: PostScript-style names of Chinese fonts as they appear in a PDF's /BaseFont (WeasyPrint writes
#: the family with dashes, e.g. "ABCDEF+AR-PL-UMing-CN-Light"; other tools write "NotoSerifCJK").
_CJK_FONT_NAME = re.compile(
    r"AR[-_ ]?PL[-_ ]?(U?Ming|U?Kai|Sungti)|WenQuanYi|WQY"
    r"|Noto[-_ ]?(Serif|Sans)[-_ ]?(Mono[-_ ]?)?CJK|Source[-_ ]?Han"
    r"|N?SimSun|SimHei|FangSong|KaiTi|STSong|Droid[-_ ]?Sans[-_ ]?Fallback|LXGW|TW[-_ ]?Sung",
    re.IGNORECASE,
)

#: ``data:`` URLs we make ourselves: the QR code (segno's SVG) and raster images.
_DATA_TYPES = frozenset({"image/svg+xml", "image/png", "image/jpeg", "image/gif"})


class FontMissing(RuntimeError):
    """No Chinese font is installed: printing would give a PDF of empty boxes."""


class GlyphsMissing(FontMissing):
    """Some characters are in no installed font (WeasyPrint would draw them as boxes)."""


class FetchRefused(ValueError):
    """The printer does not fetch this URL (WeasyPrint logs it and leaves the resource out)."""


@dataclass(frozen=True)
class PrintedPdf:
    pdf: bytes
    pages: int


def require_cjk_font() -> str:
    """The family name of an installed Chinese font, preferring the stylesheet's; or FontMissing.

    Runs the ``fc-list`` command rather than asking the library WeasyPrint has loaded, so that it
    sees the fontconfig setup of the environment it runs in (and can be tested with an empty one).
    """
    install = f"apt-get install {CJK_FONT_PACKAGES} (or run scripts/setup.sh)"
    try:
        listing = subprocess.run(
            ["fc-list", ":lang=zh", "family"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except FileNotFoundError as exc:
        raise FontMissing("fontconfig's fc-list is missing: apt-get install fontconfig") from exc
    except (subprocess.SubprocessError, OSError) as exc:
        raise FontMissing(f"fontconfig could not list fonts ({exc}); {install}") from exc
    # One line per font, localised names after commas: "WenQuanYi Zen Hei,文泉驛正黑,…".
    families = {name.strip() for line in listing.splitlines() for name in line.split(",")}
    families.discard("")
    for family in PREFERRED_CJK_FAMILIES:
        if family in families:
            return family
    if families:
        return sorted(families)[0]
    raise FontMissing(
        "No Chinese (CJK) font is installed, so letters would print as empty boxes; "
        f"install one: {install}"
    )


class AssetFetcher(URLFetcher):
    """WeasyPrint's URL fetcher for letters: files inside ``assets_dir`` and our data: images.

    Anything else raises ``FetchRefused``; WeasyPrint then logs a warning and leaves the image or
    stylesheet out. Paths are resolved first, so ``..`` and symlinks cannot lead out of the folder.
    """

    def __init__(self, assets_dir: Path) -> None:
        # No redirects and only these schemes, so urllib's network handlers are never reached
        # even if fetch() below were bypassed.
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.root = assets_dir.resolve(strict=True)

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        scheme = url.partition(":")[0].lower()
        if scheme == "data":
            return self._data(url)
        if scheme == "file":
            return self._file(url)
        raise FetchRefused(f"letters fetch nothing from {scheme}: URLs: {url[:80]}")

    def resolve(self, url: str) -> Path:
        """The real path of a file: URL inside the assets folder, or FetchRefused."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            raise FetchRefused(f"not a local file: {url[:80]}")
        path = Path(unquote(parts.path))
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError, ValueError) as exc:  # ValueError: a NUL in the path
            raise FetchRefused(f"no such asset: {path}") from exc
        if not real.is_relative_to(self.root) or not real.is_file():
            raise FetchRefused(f"outside the letters' assets folder: {path}")
        return real

    def points_to(self, url: str, path: Path) -> bool:
        try:
            return self.resolve(url) == path
        except FetchRefused:
            return False

    def _file(self, url: str) -> URLFetcherResponse:
        real = self.resolve(url)
        kind = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, real.read_bytes(), {"Content-Type": kind})

    def _data(self, url: str) -> URLFetcherResponse:
        header, comma, payload = url[len("data:") :].partition(",")
        params = [part.strip().lower() for part in header.split(";")]
        kind = params[0]
        if not comma or kind not in _DATA_TYPES:
            raise FetchRefused(f"data: URL of type {kind or 'text/plain'} refused")
        body = unquote_to_bytes(payload)
        if "base64" in params[1:]:
            body = base64.b64decode(body, validate=False)
        return URLFetcherResponse(url, body, {"Content-Type": kind})


class _StandInFetcher(AssetFetcher):
    """Answers one stylesheet with an empty sheet: the printer applies its parsed copy instead."""

    def __init__(self, assets_dir: Path, stylesheet: Path) -> None:
        super().__init__(assets_dir)
        self.stylesheet = stylesheet

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if self.points_to(url, self.stylesheet):
            return URLFetcherResponse(url, b"", {"Content-Type": "text/css"})
        return super().fetch(url, headers)


_PRINTING = threading.Lock()


class PdfPrinter:
    """Prints letter HTML to PDF. Keep one per process (or thread, it is not thread-safe): it keeps
    WeasyPrint's font setup between letters (~20% of a letter's time) and letter.css parsed once
    (~8%)."""

    def __init__(self, assets_dir: Path) -> None:
        self.assets_dir = assets_dir.resolve(strict=True)
        self._base_url = path2url(self.assets_dir)  # ends in "/" for a folder
        self._fonts = FontConfiguration()
        self._fetcher = AssetFetcher(self.assets_dir)
        stylesheet = self._fetcher.resolve(path2url(self.assets_dir / STYLESHEET))
        self._stand_in = _StandInFetcher(self.assets_dir, stylesheet)
        self._stylesheet = CSS(
            filename=stylesheet, url_fetcher=self._fetcher, font_config=self._fonts
        )

    def print(self, html: str) -> PrintedPdf:
        # Pango and fontconfig are not thread-safe: letters printed from several threads of one
        # process (district tasks of a night) corrupted the heap. One at a time per process;
        # parallel printing is one process per core.
        with _PRINTING:
            return self._print(html)

    def _print(self, html: str) -> PrintedPdf:
        document = HTML(string=html, base_url=self._base_url, url_fetcher=self._fetcher)
        sheets = []
        if self._links_stylesheet(document):
            # The parsed letter.css is applied as a user sheet and its <link> gets an empty one.
            # The letters have no other author sheet (no <style>), so the cascade is the same:
            # a test checks the PDF is byte for byte that of a plain WeasyPrint render.
            sheets.append(self._stylesheet)
            document.url_fetcher = self._stand_in
        rendered = document.render(font_config=self._fonts, stylesheets=sheets)
        # Never embed files: <link rel=attachment> lands in the metadata and <a rel=attachment>
        # in the page links; both are dropped before the PDF is written, so nothing is fetched.
        rendered.metadata.attachments = []
        for page in rendered.pages:
            page.links = [link for link in page.links if link[0] != "attachment"]
        with _missing_glyphs() as missing:
            pdf = rendered.write_pdf(attachments=None, pdf_forms=False)
        if missing:
            chars = "、".join(f"{char}（U+{ord(char):04X}）" for char in sorted(set(missing)))
            raise GlyphsMissing(
                f"no installed font has {chars}: the letter would show boxes there, so it is "
                f"not printed. Is {CJK_FONT_PACKAGES} installed (scripts/setup.sh)? Characters "
                "beyond it need a font that has them, or the text written another way."
            )
        return PrintedPdf(pdf=pdf, pages=len(rendered.pages))

    def _links_stylesheet(self, document: HTML) -> bool:
        """Whether the page links letter.css for all media (as every letter template does)."""
        for link in document.etree_element.iter("link"):
            rel = (link.get("rel") or "").lower().split()
            href = (link.get("href") or "").strip()
            if rel != ["stylesheet"] or not href or link.get("media") not in (None, "all", "print"):
                continue
            if self._fetcher.points_to(urljoin(document.base_url, href), self._stand_in.stylesheet):
                return True
        return False


class _NotdefWatch(logging.Handler):
    """Collects the characters WeasyPrint reports drawing as .notdef (a box) in this thread.

    WeasyPrint says so only in a log warning ('.notdef glyph rendered for Unicode string
    unsupported by fonts: "X" (U+XXXX)'), so that is where the printer listens; a test prints a
    character no font has, so a WeasyPrint that words it differently is noticed.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.chars: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and str(record.msg).startswith(".notdef glyph"):
            self.chars.append(str(record.args[0]) if record.args else "?")


@contextmanager
def _missing_glyphs() -> Iterator[list[str]]:
    watch = _NotdefWatch()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(watch)
    try:
        yield watch.chars
    finally:
        logger.removeHandler(watch)


def _fonts_in(resources: object, seen: set[int]) -> Iterator[str]:
    """BaseFont names in a resource dictionary and in the form XObjects it draws."""
    if isinstance(resources, IndirectObject):
        resources = resources.get_object()
    if not isinstance(resources, DictionaryObject):
        return
    fonts = resources.get("/Font")
    fonts = fonts.get_object() if fonts is not None else None
    if isinstance(fonts, DictionaryObject):
        for ref in fonts.values():
            name = ref.get_object().get("/BaseFont")
            if name is not None:
                yield str(name).lstrip("/")
    xobjects = resources.get("/XObject")
    xobjects = xobjects.get_object() if xobjects is not None else None
    if isinstance(xobjects, DictionaryObject):
        for ref in xobjects.values():
            # Forms may share or (in a broken file) contain each other: visit each object once.
            key = ref.idnum if isinstance(ref, IndirectObject) else id(ref)
            xobject = ref.get_object()
            if key in seen or xobject.get("/Subtype") != "/Form":
                continue
            seen.add(key)
            yield from _fonts_in(xobject.get("/Resources"), seen)


def pdf_fonts(pdf: bytes) -> list[str]:
    """The fonts a PDF uses: BaseFont names without the subset tag ("ABCDEF+"), sorted."""
    reader = PdfReader(io.BytesIO(pdf))
    seen: set[int] = set()
    names = {
        name.split("+", 1)[-1]
        for page in reader.pages
        for name in _fonts_in(page.get("/Resources"), seen)
    }
    return sorted(names)


def is_cjk_font(name: str) -> bool:
    """Whether a font name (as in pdf_fonts) is one of the known Chinese fonts."""
    return _CJK_FONT_NAME.search(name) is not None


def has_cjk_font(pdf: bytes) -> bool:
    """Whether a Chinese font is among the PDF's fonts (text extraction cannot tell boxes)."""
    return any(is_cjk_font(name) for name in pdf_fonts(pdf))
