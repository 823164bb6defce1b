"""Printing HTML to PDF (notifications/pdf.py): Chinese text in a Chinese font, nothing fetched
from outside the letters' assets folder, no attachments, and the font check before printing.

These print real PDFs with the fonts scripts/setup.sh installs; text extraction alone cannot tell
a Chinese font from empty boxes, so the font list is checked too.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from markupsafe import escape
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.urls import path2url

from notifications.pdf import (
    PREFERRED_CJK_FAMILIES,
    AssetFetcher,
    FetchRefused,
    FontMissing,
    GlyphsMissing,
    PdfPrinter,
    PrintedPdf,
    has_cjk_font,
    is_cjk_font,
    pdf_fonts,
    require_cjk_font,
)

ASSETS = Path(__file__).resolve().parents[2] / "templates" / "letters"
SECRET = "SECRET-d41d8cd98f00b204"  # the content of files outside the assets folder


def page(body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<link rel="stylesheet" href="letter.css">{head}</head><body>{body}</body></html>'
    )


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def fonts_of_chinese_text(pdf: bytes) -> dict[str, str]:
    """Each Chinese character shown, with the font it is drawn in (a box has no character)."""
    found: dict[str, str] = {}

    def visit(
        text: str, cm: object, tm: object, font: dict[str, object] | None, size: object
    ) -> None:
        for char in text:
            if font is not None and unicodedata.name(char, "").startswith("CJK"):
                found[char] = str(font["/BaseFont"]).split("+")[-1]

    for pdf_page in PdfReader(io.BytesIO(pdf)).pages:
        pdf_page.extract_text(visitor_text=visit)
    return found


def embedded_files(pdf: bytes) -> list[object]:
    """Everything that could carry a file: the catalog's /EmbeddedFiles, /FileAttachment annots."""
    reader = PdfReader(io.BytesIO(pdf))
    found: list[object] = []
    names = reader.trailer["/Root"].get_object().get("/Names")
    if names is not None and "/EmbeddedFiles" in names.get_object():
        found.append(names.get_object()["/EmbeddedFiles"])
    for pdf_page in reader.pages:
        for annot in pdf_page.get("/Annots") or []:
            if annot.get_object().get("/Subtype") == "/FileAttachment":
                found.append(annot)
    return found


@pytest.fixture(scope="module")
def printer() -> PdfPrinter:
    return PdfPrinter(ASSETS)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the assets holding files that must never reach a PDF."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET)
    (folder / "secret.css").write_text(f'body::after {{ content: "{SECRET}"; }}')
    (folder / "secret.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40">'
        f'<text x="0" y="20">{SECRET}</text></svg>'
    )
    return folder


class _Counting(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(f'body::after {{ content: "{SECRET}"; }}'.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A web server on 127.0.0.1 that counts the requests it gets."""
    handler = type("Handler", (_Counting,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------- printing Chinese


def test_chinese_page_prints_in_a_chinese_font(printer: PdfPrinter) -> None:
    html = page(
        "<h1>社会保险费催缴通知书</h1><p>天津市和平区某某商贸有限公司：贵单位欠缴社会保险费。</p>"
        '<p style="page-break-before: always">合计人民币壹万贰仟叁佰肆拾伍元陆角柒分</p>'
    )
    printed = printer.print(html)

    assert isinstance(printed, PrintedPdf)
    assert printed.pdf.startswith(b"%PDF-")
    assert printed.pages == 2 == len(PdfReader(io.BytesIO(printed.pdf)).pages)
    text = text_of(printed.pdf)
    for words in (
        "社会保险费催缴通知书",
        "天津市和平区某某商贸有限公司",
        "壹万贰仟叁佰肆拾伍元陆角柒分",
    ):
        assert words in text
    assert has_cjk_font(printed.pdf), pdf_fonts(printed.pdf)
    drawn = fonts_of_chinese_text(printed.pdf)
    assert set("社会保险费催缴通知书壹万贰仟") <= drawn.keys()
    assert all(is_cjk_font(font) for font in drawn.values()), drawn


def test_rare_characters_outside_gb2312_get_a_chinese_font(printer: PdfPrinter) -> None:
    # Company names use characters such as 喆 堃 赟, and GB 18030 ledgers can carry rarer ones
    # (刏 is not in AR PL UMing): each must come out in some Chinese font, not as a box.
    name = "天津喆堃赟刏刯商贸有限公司"
    printed = printer.print(page(f"<p>{name}</p>"))

    assert name in text_of(printed.pdf)
    drawn = fonts_of_chinese_text(printed.pdf)
    assert set(name) <= drawn.keys()
    assert all(is_cjk_font(drawn[char]) for char in name), drawn


def test_a_character_in_no_installed_font_is_refused_not_printed_as_a_box(
    printer: PdfPrinter,
) -> None:
    # U+2A6D6 (CJK extension B) is in none of the fonts setup installs: WeasyPrint would draw a
    # box, and the printer refuses instead, naming the character.
    with pytest.raises(GlyphsMissing, match="U\\+2A6D6"):
        printer.print(page("<p>天津\U0002a6d6公司</p>"))
    assert issubclass(GlyphsMissing, FontMissing)  # the app treats both alike
    assert printer.print(page("<p>天津公司</p>")).pages == 1  # and the printer goes on


def test_a_page_without_chinese_fonts_is_told_apart() -> None:
    pdf = HTML(string='<p style="font-family: DejaVu Sans">Hello</p>').write_pdf()

    assert pdf_fonts(pdf) == ["DejaVu-Sans"]
    assert not has_cjk_font(pdf)


def test_printing_is_repeatable_and_matches_a_plain_weasyprint_render(printer: PdfPrinter) -> None:
    # The printer reuses fonts and a parsed letter.css between letters; the bytes must be those
    # of a fresh render (content-addressed storage relies on the same HTML giving the same PDF).
    html = page("<h1>限期缴纳通知书</h1><p>请贵单位于2026年12月10日前缴纳。</p>")
    plain = HTML(string=html, base_url=str(ASSETS) + "/", url_fetcher=AssetFetcher(ASSETS))

    first = printer.print(html)
    assert printer.print(html) == first
    assert plain.write_pdf() == first.pdf


# ------------------------------------------------------------------------ nothing fetched, ever


def test_hostile_markup_fetches_nothing_and_embeds_nothing(
    printer: PdfPrinter, outside: Path, http_server: tuple[str, list[str]]
) -> None:
    server, requests = http_server
    secret = path2url(outside / "secret.txt")
    head = (
        f'<link rel="stylesheet" href="{path2url(outside / "secret.css")}">'
        f'<link rel="stylesheet" href="{server}/style.css">'
        '<link rel="attachment" href="file:///etc/passwd">'
        f'<link rel="attachment" href="{secret}">'
        f'<link rel="attachment" href="{server}/attached.txt">'
        f'<style>@import url("{server}/imported.css"); '
        f'p {{ background: url("{server}/bg.png"); }}</style>'
    )
    body = (
        '<p>天津市某某公司<img src="file:///etc/passwd"></p>'
        f'<img src="{path2url(outside / "secret.svg")}">'
        '<img src="http://127.0.0.1:9/x.png">'
        f'<img src="{server}/x.png"><img src="https://127.0.0.1:9/x.png">'
        '<img src="ftp://127.0.0.1:9/x.png">'
        f'<img src="{ASSETS.as_uri()}/../../../../etc/passwd">'
        '<img src="../../../../../../etc/passwd">'
        f'<a rel="attachment" href="{secret}">附件</a>'
        '<a rel="attachment" href="file:///etc/passwd">附件</a>'
    )
    printed = printer.print(page(body, head))

    assert requests == []
    assert SECRET not in text_of(printed.pdf)
    assert SECRET.encode() not in printed.pdf
    assert b"root:" not in printed.pdf
    assert embedded_files(printed.pdf) == []
    assert "天津市某某公司" in text_of(printed.pdf)


def test_attachments_are_left_out_even_of_files_the_printer_may_read(printer: PdfPrinter) -> None:
    html = page(
        '<p>正文<a rel="attachment" href="letter.css" download="x.css">附件</a></p>',
        '<link rel="attachment" href="letter.css">',
    )
    assert embedded_files(printer.print(html).pdf) == []


def test_an_escaped_hostile_name_prints_literally(printer: PdfPrinter) -> None:
    name = '<img src="file:///etc/passwd">某某公司'
    printed = printer.print(page(f"<p>{escape(name)}：</p>"))

    assert name in text_of(printed.pdf).replace("\n", "")
    assert b"root:" not in printed.pdf


# ------------------------------------------------------------------------------ the URL fetcher


def test_fetcher_serves_the_stylesheet_from_the_assets_folder() -> None:
    fetcher = AssetFetcher(ASSETS)
    response = fetcher.fetch(path2url(ASSETS / "letter.css"))

    assert response.read() == (ASSETS / "letter.css").read_bytes()
    assert response.content_type == "text/css"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        f"{ASSETS.as_uri()}/../../../../../../etc/passwd",
        f"{ASSETS.as_uri()}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"{ASSETS.as_uri()}/letter.css%00",
        f"{ASSETS.as_uri()}/no-such-file.css",
        ASSETS.as_uri(),  # the folder itself
        f"file://example.org{ASSETS}/letter.css",
        "http://127.0.0.1:9/x.png",
        "https://127.0.0.1:9/x.png",
        "ftp://127.0.0.1:9/x.png",
        "data:text/html,<script>1</script>",
        "data:,plain",
    ],
)
def test_fetcher_refuses_everything_else(url: str) -> None:
    with pytest.raises(FetchRefused):
        AssetFetcher(ASSETS).fetch(url)


def test_fetcher_refuses_a_symlink_that_leads_out(tmp_path: Path, outside: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "letter.css").write_text("p { color: red; }")
    (assets / "leak.css").symlink_to(outside / "secret.css")
    fetcher = AssetFetcher(assets)

    assert fetcher.fetch(path2url(assets / "letter.css")).read() == b"p { color: red; }"
    with pytest.raises(FetchRefused):
        fetcher.fetch(path2url(assets / "leak.css"))


def test_fetcher_serves_our_data_images() -> None:
    fetcher = AssetFetcher(ASSETS)
    svg = fetcher.fetch("data:image/svg+xml;charset=utf-8,%3Csvg%2F%3E")
    png = fetcher.fetch("data:image/png;base64,iVBORw0KGgo=")

    assert (svg.read(), svg.content_type) == (b"<svg/>", "image/svg+xml")
    assert png.read() == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- the font check up front


def test_require_cjk_font_names_an_installed_font() -> None:
    assert require_cjk_font() in PREFERRED_CJK_FAMILIES


def _fontconfig(tmp_path: Path, *dirs: str) -> Path:
    config = tmp_path / "fonts.conf"
    listed = "".join(f"<dir>{d}</dir>" for d in dirs)
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">'
        f"<fontconfig>{listed}<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    return config


def test_require_cjk_font_refuses_when_fontconfig_finds_no_fonts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FONTCONFIG_FILE", str(_fontconfig(tmp_path)))
    with pytest.raises(FontMissing, match="fonts-arphic-uming"):
        require_cjk_font()


def test_require_cjk_font_refuses_when_only_latin_fonts_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FONTCONFIG_FILE", str(_fontconfig(tmp_path, "/usr/share/fonts/truetype/dejavu"))
    )
    with pytest.raises(FontMissing, match="apt-get install fonts-arphic-uming"):
        require_cjk_font()


def test_require_cjk_font_says_what_to_install_without_fontconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list on it
    with pytest.raises(FontMissing, match="apt-get install fontconfig"):
        require_cjk_font()
