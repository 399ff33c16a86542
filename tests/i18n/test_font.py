"""Devanagari is drawn with a vendored font (with its licence); no web-font CDN anywhere."""

import re
from pathlib import Path

from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static"
FONT_DIR = STATIC / "vendor" / "noto-sans-devanagari"


def test_font_is_vendored_with_its_licence():
    licence = (FONT_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "SIL Open Font License" in licence and "Noto Project Authors" in licence
    css = (FONT_DIR / "noto-sans-devanagari.css").read_text(encoding="utf-8")
    sources = re.findall(r"url\(([^)]+)\)", css)
    assert sources and all(src.startswith("files/") and src.endswith(".woff2") for src in sources)
    assert all((FONT_DIR / src).is_file() for src in sources)
    assert {"devanagari-400", "devanagari-600", "devanagari-700"} <= {
        re.search(r"(devanagari|latin)-\d{3}", src).group(0) for src in sources
    }


def test_hindi_pages_use_the_font_and_no_cdn(client):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "/static/vendor/noto-sans-devanagari/noto-sans-devanagari.css" in html
    mars_css = (STATIC / "css" / "mars.css").read_text(encoding="utf-8")
    assert re.search(r':root:lang\(hi\)\s*\{\s*--bs-body-font-family:\s*"Noto Sans Devanagari"', mars_css)
    for path in [*STATIC.joinpath("css").glob("*.css"), *Path(settings.BASE_DIR, "templates").rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, path
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", text), path
